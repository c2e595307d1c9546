-- What a walk-in joining a line now would be told (the whole-city recommendation, recommend/):
-- the line's detail as for a normal ticket behind every waiting one, the open windows serving it
-- and the people waiting in it.
-- KEYS: 1 the line's normal waiting zset   ARGV: 1 base, 2 now, 3 queue
local base, now, queue = ARGV[1], ARGV[2], ARGV[3]
local q = base .. 'w:' .. queue .. ':'
local own = redis.call('ZCARD', KEYS[1])
local line = line_detail(base, queue, queue, 'n', KEYS[1], own, now)
line.own = own + redis.call('ZCOUNT', q .. 'a', '-inf', now)
return cjson.encode({line = line, open_windows = redis.call('SCARD', base .. 'open:' .. queue),
                     waiting = own + redis.call('ZCARD', q .. 'p') + redis.call('ZCARD', q .. 'a')})
