-- door_announce: put door-to-door case transitions on the center's stream, each exactly once.
-- KEYS[1] the center's announced transitions (zset: transition id scored by itself), KEYS[2] its
-- event stream. ARGV[1] stream maxlen, ARGV[2] how many of the newest ids to remember, then per
-- transition three values: its id, the event type, the event data (JSON, written by door/events.py).
-- An id remembered is not emitted again: an announcer that died after this script and before
-- marking the transitions announced in PostgreSQL repeats nothing when it (or another) tries again.
-- Ids only grow, so the oldest forgotten are long marked. Returns the ids emitted now.
local emitted = {}
for i = 3, #ARGV, 3 do
  if redis.call('ZADD', KEYS[1], 'NX', ARGV[i], ARGV[i]) == 1 then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'type', ARGV[i + 1], 'data', ARGV[i + 2])
    table.insert(emitted, ARGV[i])
  end
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[2]) - 1)
return emitted
