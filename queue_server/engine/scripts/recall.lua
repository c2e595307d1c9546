-- Call the same ticket again; past the recall limit it becomes a no-show and frees the window.
-- KEYS: 1 ticket hash, 2 events, 3 live set, 4 alive marker
-- ARGV: 1 base, 2 now, 3 recall limit, 4 acting window ('' = any), 5 stream maxlen, 6 ticket ttl, 7 center
local base, now = ARGV[1], ARGV[2]
local t = hgetall(KEYS[1])
if not t.id then return missing(KEYS[4], ARGV[7]) end
if t.status ~= 'called' then return fail('illegal_transition', 'ticket ' .. t.number .. ' is ' .. t.status .. '; only a called ticket can be recalled') end
if ARGV[4] ~= '' and t.window ~= ARGV[4] then return fail('other_window', 'ticket ' .. t.number .. ' is at window ' .. t.window) end
local recalls = tonumber(t.recalls or '0') + 1
local kind = 'ticket.recalled'
local body = {center = ARGV[7]}
if recalls > tonumber(ARGV[3]) then
  kind = 'ticket.no_show'
  body.reason = 'recall_limit'
  t.status = 'no_show'; t.ended_at = now
  local wk = base .. 'win:' .. t.window
  if redis.call('HGET', wk, 'current') == t.id then redis.call('HSET', wk, 'current', '', 'since', now) end
  redis.call('SREM', KEYS[3], t.id)
else
  t.recalls = recalls
end
t.version = tonumber(t.version) + 1
hsetall(KEYS[1], t)
redis.call('EXPIRE', KEYS[1], ARGV[6])
body.ticket = view(t); body.window = window_view(base, t.window)
body.event_id = emit(KEYS[2], ARGV[5], kind, now, body)
return cjson.encode(body)
