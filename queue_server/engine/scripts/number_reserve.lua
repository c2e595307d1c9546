-- Keep one center's numbers of one day within what PostgreSQL has reserved (record/numbers.py).
-- KEYS: 1 number reserve hash, 2 sequence hash
-- ARGV: 1 'raise' or 'resume', 2.. prefix, number pairs
-- raise: each prefix may be handed out up to its number (a reservation just recorded in PostgreSQL);
--   refused with 'unverified' if this Redis server has not resumed the day (another run id).
-- resume: every number up to each prefix's number may have been handed out (the recorded
--   reservation, or the highest recorded ticket): each sequence is lifted above it, nothing is
--   reserved beyond it yet, and the day's sequences are trusted on this server from now on.
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if ARGV[1] == 'raise' then
  if redis.call('HGET', KEYS[1], '_run') ~= run then return 'unverified' end
  for i = 2, #ARGV, 2 do
    local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
    if tonumber(ARGV[i + 1]) > current then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  end
else
  for i = 2, #ARGV, 2 do
    local current = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
    local seq = math.max(current, tonumber(ARGV[i + 1]))
    if seq > current then redis.call('HSET', KEYS[2], ARGV[i], seq) end   -- no sequence while none is used
    redis.call('HSET', KEYS[1], ARGV[i], seq)
  end
  redis.call('HSET', KEYS[1], '_run', run)
  redis.call('EXPIRE', KEYS[2], 259200)
end
redis.call('EXPIRE', KEYS[1], 259200)
return 'ok'
