-- A new one-time code for a number at a center: it replaces any code pending, with no attempts used.
-- KEYS: 1 the number's code at the center   ARGV: 1 digest of the code, 2 lifetime s, 3 now (ms)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'digest', ARGV[1], 'attempts', 0, 'expires', tonumber(ARGV[3]) + 1000 * tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return cjson.encode({ok = true})
