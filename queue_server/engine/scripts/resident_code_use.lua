-- Use up a resident's one-time SMS code (residents/) to prove a number, for a booking
-- (appointments/verify.py): the code's rules (refuse_code, as resident_claim.lua) without the claim.
-- KEYS: 1 the number's code at the center   ARGV: 1 digest of the code given, 2 attempts allowed, 3 now (ms)
local refused = refuse_code(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
if refused then return refused end
redis.call('DEL', KEYS[1])
return cjson.encode({ok = true})
