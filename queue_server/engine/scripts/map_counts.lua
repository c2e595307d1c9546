-- Centers' live figures for the map (network/map.py), several centers a call (each_center): waiting
-- in its queues, open windows of its main line, average handling times, its remote windows' states,
-- and waiting per service point.
-- Per center KEYS: 1 open-window set of the main line, 2 stats hash, then args[1] waiting zsets of its
--   queues, then args[2] remote window hashes, then the waiting zsets of its points, three per point (p, a, n)
-- Shared: 1 main line, 2 remote line
-- Returns for each center {waiting, open windows, main line's average handling ('' when none kept),
-- remote line's, {remote windows' states}, {waiting at each point}}.
local function live(keys, args, shared)
  local nq, nw = tonumber(args[1]), tonumber(args[2])
  local waiting = 0
  for i = 3, 2 + nq do waiting = waiting + redis.call('ZCARD', keys[i]) end
  local states = {}
  for i = 3 + nq, 2 + nq + nw do states[#states + 1] = redis.call('HGET', keys[i], 'state') or 'closed' end
  local points = {}
  for i = 3 + nq + nw, #keys, 3 do
    points[#points + 1] = redis.call('ZCARD', keys[i]) + redis.call('ZCARD', keys[i + 1]) + redis.call('ZCARD', keys[i + 2])
  end
  local avg = redis.call('HMGET', keys[2], 'h:' .. shared[1], 'h:' .. shared[2])
  return {waiting, redis.call('SCARD', keys[1]), avg[1] or '', avg[2] or '', states, points}
end

return each_center(live)
