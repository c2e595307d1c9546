-- A remote window's video session with the resident at a service point, opened by the first side
-- to join while the point's ticket is called or served at the window: one session.started per
-- session however many join, on however many instances. A session the window still holds for an
-- earlier ticket (its TTL not yet run out) is closed first.
-- KEYS: 1 the window's session hash, 2 the ticket hash, 3 events
-- ARGV: 1 base, 2 now, 3 stream maxlen, 4 center, 5 window, 6 the ticket's point, 7 session ttl (s),
--       8 the side that joined (window | point)
-- Returns {session, started} or {refused, detail}.
local base, now, window = ARGV[1], ARGV[2], ARGV[5]
local t = hgetall(KEYS[2])
if not t.id or not is_at_window(t.status) or t.window ~= window or (t.service_point or '') ~= ARGV[6] then
  return cjson.encode({refused = 'not_in_session', detail = 'the ticket is not called or served at this remote window for this point'})
end
local s = hgetall(KEYS[1])
if s.id and s.ticket == t.id then return cjson.encode({session = session_view(s), started = false}) end
if s.id then close_session(base, ARGV[4], window, nil, 'superseded', now, KEYS[3], ARGV[3]) end
s = {id = t.id .. '@' .. now, ticket = t.id, window = window, point = t.service_point, started_at = now,
  opened_by = ARGV[8]}
hsetall(KEYS[1], s)
redis.call('EXPIRE', KEYS[1], ARGV[7])
emit(KEYS[3], ARGV[3], 'session.started', now,
  {center = ARGV[4], session = session_view(s), ticket = view(t), window = window_view(base, window)})
return cjson.encode({session = session_view(s), started = true})
