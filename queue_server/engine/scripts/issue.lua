-- Issue a ticket: next daily number of the queue's prefix, join the waiting line, append the event.
-- A number is handed out only below the day's reservation recorded in PostgreSQL (record/numbers.py),
-- and only by the Redis server that resumed the day's sequences above it: a Redis restarted from an
-- older AOF or RDB, or a promoted replica, has another run id, so its sequences are not trusted
-- until they have been lifted again.
-- KEYS: 1 sequence hash, 2 idempotency key, 3 events, 4 live set, 5 waiting zset of its line, 6 alive marker,
--       7 number reserve hash, 8.. (a service point's ticket) the hashes of the remote windows assigned to the point now
-- ARGV: 1 base, 2 center, 3 day, 4 prefix, 5 queue, 6 class, 7 now, 8 sort_at, 9 fields json,
--       10 idempotency ttl (0: no key), 11 stream maxlen, 12 ticket ttl
local base, center, day, prefix, queue, class, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('EXISTS', KEYS[6]) == 0 then return fail('rebuilding', 'the queue of ' .. center .. ' is being restored; retry shortly') end
if ARGV[10] ~= '0' then
  local existing = redis.call('GET', KEYS[2])
  if existing then
    local t = hgetall(base .. 't:' .. existing)
    local ahead, open, line = position(base, t, now)
    return cjson.encode({ticket = view(t), ahead = ahead, open_windows = open, line = line, duplicate = true})
  end
end
if #KEYS > 7 then
  local staffed = false
  for i = 8, #KEYS do
    local state = redis.call('HGET', KEYS[i], 'state')
    if state == 'open' or state == 'paused' then staffed = true end
  end
  if not staffed then return fail('point_unstaffed', 'no remote window assigned to this service point is open now') end
end
local reserve = redis.call('HMGET', KEYS[7], '_run', prefix)
if reserve[1] ~= string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') then
  return fail('numbers_unverified', 'the numbers of ' .. center .. ' are being resumed; retry shortly')
end
local seq = tonumber(redis.call('HGET', KEYS[1], prefix) or '0') + 1
if not reserve[2] or seq > tonumber(reserve[2]) then
  return fail('numbers_exhausted', 'no ' .. prefix .. ' number of ' .. center .. ' is reserved; retry shortly')
end
redis.call('HSET', KEYS[1], prefix, seq)
redis.call('EXPIRE', KEYS[1], 259200)
local number = prefix .. string.format('%03d', seq)
local id = center .. '-' .. day .. '-' .. number
local t = cjson.decode(ARGV[9])
t.id = id; t.center = center; t.number = number; t.day = day; t.queue = queue; t.class = class
t.status = 'waiting'; t.issued_at = now; t.sort_at = ARGV[8]; t.recalls = 0; t.version = 1
local key = base .. 't:' .. id
hsetall(key, t)
redis.call('EXPIRE', key, ARGV[12])
redis.call('ZADD', KEYS[5], ARGV[8], id)
redis.call('SADD', KEYS[4], id)
if ARGV[10] ~= '0' then redis.call('SET', KEYS[2], id, 'EX', ARGV[10]) end
t = hgetall(key)
local event_id = emit(KEYS[3], ARGV[11], 'ticket.issued', now, {center = center, ticket = view(t)})
local ahead, open, line = position(base, t, now)
return cjson.encode({ticket = view(t), ahead = ahead, open_windows = open, line = line, duplicate = false,
                     event_id = event_id})
