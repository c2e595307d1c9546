-- A scan of a ticket's material was uploaded or reviewed (materials/): one event on the center's
-- stream carrying the ticket as it is, so the point's screens and the window's console get it like any
-- event of that ticket. The ticket is not changed (its version stays: the record keeps its row).
-- KEYS: 1 ticket hash, 2 events, 3 alive marker
-- ARGV: 1 now, 2 stream maxlen, 3 center, 4 event type, 5 body (JSON object)
local t = hgetall(KEYS[1])
if not t.id then return missing(KEYS[3], ARGV[3]) end
local body = cjson.decode(ARGV[5])
body.center = ARGV[3]
body.ticket = view(t)
body.event_id = emit(KEYS[2], ARGV[2], ARGV[4], ARGV[1], body)
return cjson.encode({event_id = body.event_id})
