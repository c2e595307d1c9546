-- Call the next ticket to a window (or one named ticket, out of order, with a reason).
-- KEYS: 1 window hash, 2 events, 3 window's own line (ww), 4 alive marker, 5.. waiting zsets, three per queue (p, a, n)
-- ARGV: 1 base, 2 center, 3 window, 4 now, 5 slot cycle (e.g. PNN), 6 named ticket id or '',
--       7 reason, 8 stream maxlen, 9 ticket ttl
local base, center, window, now, cycle = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
if redis.call('EXISTS', KEYS[4]) == 0 then return fail('rebuilding', 'the queue of ' .. center .. ' is being restored; retry shortly') end
local w = hgetall(KEYS[1])
if w.state ~= 'open' then return fail('window_not_open', 'window ' .. window .. ' is ' .. (w.state or 'closed')) end
local refused = busy(base, window, w)
if refused then return refused end

local function head(key, max_score)
  local r
  if max_score then
    r = redis.call('ZRANGEBYSCORE', key, '-inf', max_score, 'WITHSCORES', 'LIMIT', 0, 1)
  else
    r = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  end
  if r[1] then return r[1], tonumber(r[2]) end
  return nil, nil
end

local function oldest(offset, max_score)
  local best_id, best_score, best_key
  for i = 5 + offset, #KEYS, 3 do
    local id, score = head(KEYS[i], max_score)
    if id and (not best_score or score < best_score) then best_id, best_score, best_key = id, score, KEYS[i] end
  end
  return best_id, best_key
end

local chosen, from_key, advanced = nil, nil, false
local named = ARGV[6]
if named ~= '' then
  local t = hgetall(base .. 't:' .. named)
  if not t.id then return fail('not_found', 'ticket ' .. named .. ' not found') end
  if t.status ~= 'waiting' then return fail('illegal_transition', 'ticket ' .. t.number .. ' is ' .. t.status) end
  local k = wait_key(base, t)
  local served = (k == KEYS[3])
  for i = 5, #KEYS do if KEYS[i] == k then served = true end end
  if not served then return fail('not_served_here', 'window ' .. window .. ' does not serve the line of ticket ' .. t.number) end
  chosen, from_key = named, k
else
  chosen = head(KEYS[3])
  if chosen then
    from_key = KEYS[3]
  else
    local pos = tonumber(w.cycle_pos or '0') % #cycle
    local want = string.sub(cycle, pos + 1, pos + 1)
    local p_id, p_key = oldest(0)
    local n_id, n_key = oldest(1, now)
    if not n_id then n_id, n_key = oldest(2) end
    if want == 'P' and p_id then chosen, from_key, advanced = p_id, p_key, true
    elseif want == 'N' and n_id then chosen, from_key, advanced = n_id, n_key, true
    elseif p_id then chosen, from_key = p_id, p_key
    elseif n_id then chosen, from_key = n_id, n_key
    end
    if advanced then redis.call('HSET', KEYS[1], 'cycle_pos', (pos + 1) % #cycle) end
  end
end
if not chosen then return cjson.encode({ticket = false}) end

redis.call('ZREM', from_key, chosen)
local key = base .. 't:' .. chosen
local t = hgetall(key)
t.status = 'called'; t.window = window; t.called_at = now; t.recalls = 0
t.target_window = ''; t.version = tonumber(t.version) + 1
if named ~= '' then t.called_out_of_order = ARGV[7] end
hsetall(key, t)
redis.call('EXPIRE', key, ARGV[9])
redis.call('HSET', KEYS[1], 'current', chosen, 'since', now)
local body = {center = center, ticket = view(t), window = window_view(base, window)}
if named ~= '' then body.reason = ARGV[7] end
body.event_id = emit(KEYS[2], ARGV[8], 'ticket.called', now, body)
return cjson.encode(body)
