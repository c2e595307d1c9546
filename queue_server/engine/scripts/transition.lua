-- Move one ticket along its life cycle (start, finish, no-show, pause, resume, cancel, transfer);
-- the allowed moves come from domain/tickets.py so the rules live in one place.
-- KEYS: 1 ticket hash, 2 events, 3 live set, 4 stats, 5 alive marker
-- ARGV: 1 base, 2 allowed-from csv, 3 to, 4 event type, 5 now, 6 acting window ('' = any),
--       7 fields to set (json), 8 stream maxlen, 9 ticket ttl, 10 extra event fields (json), 11 center,
--       12 action name (for messages), 13 lines the acting window serves (csv; with an acting window),
--       14 '1': refuse if the resident is marked present (a remote ticket's check-in grace ending: a check-in
--       that came first wins)
local base, to, kind, now, acting = ARGV[1], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local t = hgetall(KEYS[1])
if not t.id then return missing(KEYS[5], ARGV[11]) end
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do if s == t.status then allowed = true end end
if not allowed then return fail('illegal_transition', 'ticket ' .. t.number .. ' is ' .. t.status .. '; cannot ' .. ARGV[12]) end
if ARGV[14] == '1' and t.present_at and t.present_at ~= '' then
  return fail('present', 'ticket ' .. t.number .. ' was checked in')
end
if acting ~= '' and is_at_window(t.status) and t.window ~= acting then
  return fail('other_window', 'ticket ' .. t.number .. ' is at window ' .. t.window)
end
-- a clerk reaches a ticket away from the windows only in a line their window serves: its own line
-- (transferred to it, or paused there) or one of its queues' (domain/access.py)
if acting ~= '' and not is_at_window(t.status) then
  local reach = false
  if t.target_window and t.target_window ~= '' then
    reach = (t.target_window == acting)
  else
    for q in string.gmatch(ARGV[13] or '', '[^,]+') do if q == line_of(t) then reach = true end end
  end
  if not reach then
    return fail('other_line', 'ticket ' .. t.number .. ' waits in a line window ' .. acting .. ' does not serve')
  end
end
local from = t.status
local at_window = t.window or ''
if from == 'waiting' then redis.call('ZREM', wait_key(base, t), t.id) end
if is_at_window(from) and not is_at_window(to) and at_window ~= '' then
  local wk = base .. 'win:' .. at_window
  if redis.call('HGET', wk, 'current') == t.id then redis.call('HSET', wk, 'current', '', 'since', now) end
end
for k, v in pairs(cjson.decode(ARGV[7])) do t[k] = v end
if to == 'serving' then t.started_at = now end
if to == 'paused' then t.paused_at = now; t.target_window = at_window; t.window = '' end
if to == 'finished' then
  t.finished_at = now
  if t.started_at and t.started_at ~= '' then
    local took = (tonumber(now) - tonumber(t.started_at)) / 1000
    local field = 'h:' .. t.queue
    local avg = tonumber(redis.call('HGET', KEYS[4], field) or took)
    redis.call('HSET', KEYS[4], field, string.format('%.1f', avg * 0.8 + took * 0.2))
    -- the recent finishes of this queue and matter, newest first, for the wait estimate (domain/wait.py)
    local samples = base .. 'hs:' .. t.queue .. ':' .. (t.matter or '')
    redis.call('LPUSH', samples, string.format('%.1f', took))
    redis.call('LTRIM', samples, 0, 24)
    redis.call('EXPIRE', samples, ARGV[9])
    redis.call('SET', base .. 'hm:' .. t.queue .. ':' .. (t.matter or ''), handling_summary(samples), 'EX', ARGV[9])
  end
end
if to == 'waiting' then
  t.window = ''
  redis.call('ZADD', wait_key(base, t), t.sort_at, t.id)
end
if is_final(to) then t.ended_at = now; redis.call('SREM', KEYS[3], t.id) end
t.status = to
t.version = tonumber(t.version) + 1
hsetall(KEYS[1], t)
redis.call('EXPIRE', KEYS[1], ARGV[9])
local body = cjson.decode(ARGV[10])
body.center = ARGV[11]; body.ticket = view(t); body.from = from
if at_window ~= '' then body.window = window_view(base, at_window) end
body.event_id = emit(KEYS[2], ARGV[8], kind, now, body)
-- A service point's ticket that left its remote window ends the video session it held there, in the
-- same step: no session outlives its ticket's turn at the window, whoever is connected.
if at_window ~= '' and (t.service_point or '') ~= '' and not (is_at_window(to) and t.window == at_window) then
  close_session(base, ARGV[11], at_window, t.id, (string.gsub(kind, '^ticket%.', '')), now, KEYS[2], ARGV[8])
end
return cjson.encode(body)
