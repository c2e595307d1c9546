-- A ticket with its live position.
-- KEYS: 1 ticket hash   ARGV: 1 base, 2 now
local t = hgetall(KEYS[1])
if not t.id then return cjson.encode({ticket = false}) end
local ahead, open, line = position(ARGV[1], t, ARGV[2])
return cjson.encode({ticket = view(t), ahead = ahead, open_windows = open, line = line})
