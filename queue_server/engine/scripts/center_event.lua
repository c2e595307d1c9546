-- One event about the center that names no live ticket, on the center's stream: a step of a package of
-- originals (materials/handover.py; the package outlives its ticket in Redis), a device's failed
-- inspection (devices/inspections.py).
-- KEYS: 1 events
-- ARGV: 1 now, 2 stream maxlen, 3 center, 4 event type, 5 body (JSON object)
local body = cjson.decode(ARGV[5])
body.center = ARGV[3]
body.event_id = emit(KEYS[1], ARGV[2], ARGV[4], ARGV[1], body)
return cjson.encode({event_id = body.event_id})
