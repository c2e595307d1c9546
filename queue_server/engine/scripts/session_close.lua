-- End a remote window's video session: one session.closed, whoever asks and however often (every
-- instance that sees the ticket leave the window asks).
-- KEYS: 1 the window's session hash, 2 events
-- ARGV: 1 base, 2 now, 3 stream maxlen, 4 center, 5 window, 6 only the session of this ticket ('' any),
--       7 reason, 8 the ending event's time ('' none): a session opened after it is not the one it ends
--       (a window paused, opened again and called: the late close of the pause leaves the new session)
-- Returns the session closed, {} when there was none, or {kept} with the session the window keeps
-- (another ticket's, or one opened after the end).
local base, now, window = ARGV[1], ARGV[2], ARGV[5]
local s = hgetall(KEYS[1])
if not s.id then return '{}' end
if (ARGV[6] ~= '' and s.ticket ~= ARGV[6]) or (ARGV[8] ~= '' and tonumber(s.started_at) > tonumber(ARGV[8])) then
  return cjson.encode({kept = session_view(s)})
end
redis.call('DEL', KEYS[1])
s.ended_at = now
local body = {center = ARGV[4], session = session_view(s), window = window_view(base, window), reason = ARGV[7]}
local t = hgetall(base .. 't:' .. s.ticket)
if t.id then body.ticket = view(t) end
emit(KEYS[2], ARGV[3], 'session.closed', now, body)
return cjson.encode({session = session_view(s)})
