-- A ticket with its live position.
-- KEYS: 1 ticket hash   ARGV: 1 base, 2 now, 3 default handling s
local t = hgetall(KEYS[1])
if not t.id then return cjson.encode({ticket = false}) end
local ahead, open, avg = position(ARGV[1], t, ARGV[2], ARGV[3])
return cjson.encode({ticket = view(t), ahead = ahead, open_windows = open, avg_handling_s = avg})
