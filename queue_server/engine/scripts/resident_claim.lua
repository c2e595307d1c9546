-- Check a resident's SMS code and claim the number's one live remote ticket at the center, in one
-- step: one code gives one ticket however many requests race with it, and a number never holds two
-- live remote tickets at a center. The code's rules are refuse_code's (_lib.lua); a right code is used
-- up by a successful claim (single use); refused for a live ticket, it stays.
-- KEYS: 1 the number's code at the center, 2 the number's claim at the center
-- ARGV: 1 base, 2 digest of the code given, 3 attempts allowed, 4 now (ms), 5 this claim's issue key,
--       6 how long (ms) a claim whose ticket is not issued yet holds the number, 7 the claim's ttl s
local base, now = ARGV[1], tonumber(ARGV[4])
local refused = refuse_code(KEYS[1], ARGV[2], tonumber(ARGV[3]), now)
if refused then return refused end
local held = hgetall(KEYS[2])
if held.key then
  local tid = redis.call('GET', base .. 'idem:' .. held.key)
  if tid then
    local status = redis.call('HGET', base .. 't:' .. tid, 'status')
    if status and not is_final(status) then
      return fail('remote_ticket_live', 'this number already has live ticket ' .. tid .. ' here', {ticket = tid})
    end
  elseif now - tonumber(held.at) < tonumber(ARGV[6]) then
    return fail('remote_ticket_pending', 'a ticket for this number is being issued here; retry shortly')
  end
end
redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'key', ARGV[5], 'at', ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return cjson.encode({ok = true})
