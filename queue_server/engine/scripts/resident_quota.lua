-- A resident's code request counted against every limit it falls under (per number, per address),
-- all or nothing: a request over any limit counts against none and is refused, naming that limit.
-- KEYS: 1.. one counter per limit (its window of the clock in the name)
-- ARGV: per key, its limit and how long the counter is kept (s)
for i = 1, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[2 * i - 1]) then
    return fail('code_quota', 'too many code requests; retry later', {limit = i})
  end
end
for i = 1, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ARGV[2 * i]) end
end
return cjson.encode({ok = true})
