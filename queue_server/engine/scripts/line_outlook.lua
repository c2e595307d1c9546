-- What a walk-in joining a line now would be told (the whole-city recommendation, recommend/), several
-- centers a call (each_center): the line's detail as for a normal ticket behind every waiting one,
-- the open windows serving it and the people waiting in it.
-- Per center KEYS: 1 the line's normal waiting zset; its args: 1 base, 2 queue. Shared: 1 now.
-- Returns for each center, in order, its answer as JSON.
local function outlook(keys, args, shared)
  local base, queue, now = args[1], args[2], shared[1]
  local q = base .. 'w:' .. queue .. ':'
  local own = redis.call('ZCARD', keys[1])
  local line = line_detail(base, queue, queue, 'n', keys[1], own, now)
  line.own = own + redis.call('ZCOUNT', q .. 'a', '-inf', now)
  return cjson.encode({line = line, open_windows = redis.call('SCARD', base .. 'open:' .. queue),
                       waiting = own + redis.call('ZCARD', q .. 'p') + redis.call('ZCARD', q .. 'a')})
end

return each_center(outlook)
