-- Use up a resident's one-time SMS code (residents/) to prove a number, for a booking
-- (appointments/verify.py): the rules of resident_claim.lua without the claim. A wrong code uses an
-- attempt and the last allowed one kills the code; a right one works once.
-- KEYS: 1 the number's code at the center   ARGV: 1 digest of the code given, 2 attempts allowed, 3 now (ms)
local code = hgetall(KEYS[1])
if code.digest and tonumber(ARGV[3]) >= tonumber(code.expires) then
  redis.call('DEL', KEYS[1])
  code = {}
end
if not code.digest then
  return fail('code_invalid', 'no code is pending for this number at this center (expired or used); ask for a new one')
end
if code.digest ~= ARGV[1] then
  local used = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  local left = tonumber(ARGV[2]) - used
  if left <= 0 then
    redis.call('DEL', KEYS[1])
    return fail('code_dead', 'too many wrong codes: this code no longer works; ask for a new one')
  end
  return fail('code_wrong', 'the code is not right', {attempts_left = left})
end
redis.call('DEL', KEYS[1])
return cjson.encode({ok = true})
