-- End a remote window's video session because a side hung up: one session.closed, however often it
-- is asked. (A ticket leaving the window, or the window pausing or closing, ends its session in the
-- same script: transition.lua, window_state.lua.)
-- KEYS: 1 the window's session hash, 2 events
-- ARGV: 1 base, 2 now, 3 stream maxlen, 4 center, 5 window, 6 only the session of this ticket ('' any),
--       7 reason
-- Returns the session closed, {} when there was none, or {kept} with the session the window keeps
-- (another ticket's).
local ticket = ARGV[6]
if ticket == '' then ticket = nil end
local ended, kept = close_session(ARGV[1], ARGV[4], ARGV[5], ticket, ARGV[7], ARGV[2], KEYS[2], ARGV[3])
if ended then return cjson.encode({session = session_view(ended)}) end
if kept then return cjson.encode({kept = session_view(kept)}) end
return '{}'
