-- One center's live figures for the map (network/map.py), as one JSON reply: waiting in its queues,
-- open windows of its main line, average handling times, its remote windows' states, and waiting
-- per service point.
-- KEYS: 1 open-window set of the main line, 2 stats hash, then ARGV[1] waiting zsets of its queues,
--       then ARGV[2] remote window hashes, then the waiting zsets of its points, three per point (p, a, n)
-- ARGV: 1 number of queue zsets, 2 number of remote windows, 3 main line, 4 remote line
local nq, nw = tonumber(ARGV[1]), tonumber(ARGV[2])
local waiting = 0
for i = 3, 2 + nq do waiting = waiting + redis.call('ZCARD', KEYS[i]) end
local states = {}
for i = 3 + nq, 2 + nq + nw do states[#states + 1] = redis.call('HGET', KEYS[i], 'state') or 'closed' end
local points = {}
for i = 3 + nq + nw, #KEYS, 3 do
  points[#points + 1] = redis.call('ZCARD', KEYS[i]) + redis.call('ZCARD', KEYS[i + 1]) + redis.call('ZCARD', KEYS[i + 2])
end
local avg = redis.call('HMGET', KEYS[2], 'h:' .. ARGV[3], 'h:' .. ARGV[4])
return cjson.encode({waiting = waiting, open = redis.call('SCARD', KEYS[1]), center_avg = avg[1] or '',
                     remote_avg = avg[2] or '', states = states, points = points})
