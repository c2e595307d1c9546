-- The assistant at a service point marks the resident present for the remote clerk: once. Marking
-- again changes nothing and emits nothing; a ticket of another point (or of the hall) is refused.
-- KEYS: 1 ticket hash, 2 events, 3 alive marker
-- ARGV: 1 base, 2 now, 3 the ticket's service point, 4 allowed statuses csv, 5 stream maxlen,
--       6 ticket ttl, 7 center, 8 who marked (for the event)
local now = ARGV[2]
local t = hgetall(KEYS[1])
if not t.id then return missing(KEYS[3], ARGV[7]) end
if (t.service_point or '') ~= ARGV[3] then
  return fail('other_point', 'ticket ' .. t.number .. ' was not taken at service point ' .. ARGV[3])
end
if t.present_at and t.present_at ~= '' then return cjson.encode({ticket = view(t), duplicate = true}) end
local allowed = false
for s in string.gmatch(ARGV[4], '[^,]+') do if s == t.status then allowed = true end end
if not allowed then
  return fail('illegal_transition', 'ticket ' .. t.number .. ' is ' .. t.status .. '; cannot mark the resident present')
end
t.present_at = now
t.version = tonumber(t.version) + 1
redis.call('HSET', KEYS[1], 'present_at', now, 'version', t.version)
redis.call('EXPIRE', KEYS[1], ARGV[6])
local body = {center = ARGV[7], ticket = view(t), by = ARGV[8]}
body.event_id = emit(KEYS[2], ARGV[5], 'ticket.present', now, body)
return cjson.encode(body)
