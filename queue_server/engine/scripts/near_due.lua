-- The watched tickets of a center (a phone given, "turn is near" not queued yet) whose turn is near:
-- waiting with at most N ahead. Tickets called, served or ended leave the watch; paused ones stay.
-- KEYS: 1 the center's watch set
-- ARGV: 1 base, 2 now, 3 N, 4.. ticket ids to watch from now on (issued with a phone)
local base, now, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
for i = 4, #ARGV do redis.call('SADD', KEYS[1], ARGV[i]) end
local due = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local t = hgetall(base .. 't:' .. id)
  if not t.id or (t.status ~= 'waiting' and t.status ~= 'paused') then
    redis.call('SREM', KEYS[1], id)
  elseif t.status == 'waiting' and t.phone and t.phone ~= '' then
    local ahead = ahead_of(base, t, now)
    if ahead <= n then due[#due + 1] = {id = id, number = t.number, ahead = ahead, phone = t.phone} end
  end
end
return cjson.encode({due = due})
