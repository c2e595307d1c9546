-- Shared helpers, prepended to every script. All keys a script builds start with the
-- center's base (ARGV[1]), which carries the center's hash tag.
local NUMERIC = {issued_at=true, sort_at=true, called_at=true, started_at=true, finished_at=true,
  ended_at=true, paused_at=true, recalls=true, version=true, appointment_at=true, since=true,
  present_at=true}

local function hgetall(key)
  local flat = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function hsetall(key, t)
  local flat = {}
  for k, v in pairs(t) do flat[#flat + 1] = k; flat[#flat + 1] = tostring(v) end
  redis.call('HSET', key, unpack(flat))
end

local function view(t)
  local out = {}
  for k, v in pairs(t) do
    if NUMERIC[k] then out[k] = tonumber(v) elseif v ~= '' then out[k] = v end
  end
  return out
end

-- A refusal: 'QS:code:message', or 'QS:code:{fields}:message' with fields a client can act on.
local function fail(code, message, fields)
  if fields then return redis.error_reply('QS:' .. code .. ':' .. cjson.encode(fields) .. ':' .. message) end
  return redis.error_reply('QS:' .. code .. ':' .. message)
end

-- A ticket that is not there: gone, or not restored yet after Redis lost its data (the center's
-- alive marker is missing until the rebuild ran) — then the client is told to retry, not "not found".
local function missing(alive_key, center)
  if redis.call('EXISTS', alive_key) == 0 then
    return fail('rebuilding', 'the queue of ' .. center .. ' is being restored; retry shortly')
  end
  return fail('not_found', 'ticket not found')
end

-- A script taking several centers a call (scripts.py call_grouped): ARGV holds the count of the
-- arguments every center shares, those, then for each center its count of keys, its count of
-- arguments and its arguments; its keys follow the previous center's in KEYS. fn(keys, args, shared)
-- answers for one center (never nil, which would end the list); the answers come back in order.
local function each_center(fn)
  local n = tonumber(ARGV[1])
  local shared = {}
  for i = 1, n do shared[i] = ARGV[1 + i] end
  local out, k, a = {}, 0, 2 + n
  while a <= #ARGV do
    local nk, na = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    local keys, args = {}, {}
    for i = 1, nk do keys[i] = KEYS[k + i] end
    for i = 1, na do args[i] = ARGV[a + 1 + i] end
    out[#out + 1] = fn(keys, args, shared)
    k, a = k + nk, a + 2 + na
  end
  return out
end

-- The stream is trimmed by what its readers still need (trim_events.lua, every few seconds); the
-- MAXLEN ~ here (QUEUE_STREAM_MAXLEN, twice the trimmer's own cap) is only the last resort should
-- no trimmer run, and what it drops unread is counted where it is found (record/trim.py).
local function emit(events, maxlen, kind, now, body)
  body.type = kind
  body.at = tonumber(now)
  return redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', 'type', kind, 'data', cjson.encode(body))
end

-- The line a waiting ticket stands in: its queue's, or its service point's (keys.point_line).
local function line_of(t)
  if t.line and t.line ~= '' then return t.line end
  return t.queue
end

local function wait_key(base, t)
  if t.target_window and t.target_window ~= '' then return base .. 'ww:' .. t.target_window end
  return base .. 'w:' .. line_of(t) .. ':' .. t.class
end

local function window_view(base, window)
  local w = hgetall(base .. 'win:' .. window)
  w.id = window
  w.cycle_pos = nil
  return view(w)
end

-- A queue's and matter's recent handling as the wait estimate takes it (domain/wait.py RecentHandling):
-- "<count> <median>" of its samples (hs:, newest first), nil with none. The median is statistics.median's,
-- the mean of the middle two for an even count. transition.lua keeps it (hm:) at every finish.
local function handling_summary(samples_key)
  local xs = redis.call('LRANGE', samples_key, 0, -1)
  local n = #xs
  if n == 0 then return nil end
  for i = 1, n do xs[i] = tonumber(xs[i]) end
  table.sort(xs)
  local median = xs[(n + 1) / 2]
  if n % 2 == 0 then median = (xs[n / 2] + xs[n / 2 + 1]) / 2 end
  return string.format('%d %.17g', n, median)
end

-- What the wait estimate needs of a line (domain/wait.py Outlook): the class a ticket of it stands
-- in and how many of that class are ahead, the priority and normal-class tickets waiting (normal
-- class: normal ones and appointments whose slot has begun), the matters of up to MIX_SAMPLE of the
-- people ahead, and the queue's recent handling of each of those matters (hm:, one value each; from
-- its samples, hs:, where none is kept yet).
-- ``set`` is the sorted set the ticket stands (or would stand) in, ``own`` the people ahead in it.
local MIX_SAMPLE = 30
local function line_detail(base, queue, line, class, set, own, now)
  local d = {class = class, own = own, priority = 0, normal = 0, mix = {}, recent = {}}
  if line then
    local q = base .. 'w:' .. line .. ':'
    d.priority = redis.call('ZCARD', q .. 'p')
    d.normal = redis.call('ZCARD', q .. 'n') + redis.call('ZCOUNT', q .. 'a', '-inf', now)
  end
  if own > 0 then
    for _, id in ipairs(redis.call('ZRANGE', set, 0, math.min(own, MIX_SAMPLE) - 1)) do
      local m = redis.call('HGET', base .. 't:' .. id, 'matter')
      if m then d.mix[m] = (d.mix[m] or 0) + 1 end
    end
  end
  local matters, keys = {}, {}
  for m, _ in pairs(d.mix) do
    matters[#matters + 1] = m
    keys[#keys + 1] = base .. 'hm:' .. queue .. ':' .. m
  end
  if #keys > 0 then
    local kept = redis.call('MGET', unpack(keys))
    for i, m in ipairs(matters) do
      d.recent[m] = kept[i] or handling_summary(base .. 'hs:' .. queue .. ':' .. m)
    end
  end
  return d
end

-- People ahead in line (see domain/policy.py for the order), and where the ticket waits for
-- line_detail: the set it waits in, its own rank there and its line (nil: a window's own line).
-- On its own for the "turn is near" watch, which needs the count and none of the detail.
local function ahead_of(base, t, now)
  if t.status ~= 'waiting' then return 0, nil, 0, nil end
  if t.target_window and t.target_window ~= '' then
    local set = base .. 'ww:' .. t.target_window
    local own = redis.call('ZRANK', set, t.id) or 0
    return own, set, own, nil
  end
  local line = line_of(t)
  local q = base .. 'w:' .. line .. ':'
  local own = redis.call('ZRANK', q .. t.class, t.id) or 0
  local ahead = own
  if t.class == 'a' then
    ahead = own + redis.call('ZCARD', q .. 'p')
  elseif t.class ~= 'p' then
    ahead = own + redis.call('ZCARD', q .. 'p') + redis.call('ZCOUNT', q .. 'a', '-inf', now)
  end
  return ahead, q .. t.class, own, line
end

-- People ahead in line, open windows and the line's detail for the wait estimate.
local function position(base, t, now)
  local ahead, set, own, line = ahead_of(base, t, now)
  local detail = false
  if set and line then
    detail = line_detail(base, t.queue, line, t.class, set, own, now)
    if t.class == 'n' then detail.own = ahead - detail.priority end
  elseif set then
    detail = line_detail(base, t.queue, nil, 'w', set, own, now)
  end
  local open = redis.call('SCARD', base .. 'open:' .. t.queue)
  return ahead, open, detail
end

local function is_at_window(status) return status == 'called' or status == 'serving' end
local function is_final(status) return status == 'finished' or status == 'no_show' or status == 'cancelled' end

-- The refusal for a window whose current ticket is still called or being served there; nil if free.
local function busy(base, window, w)
  if not w.current or w.current == '' then return nil end
  local cur = redis.call('HGET', base .. 't:' .. w.current, 'status')
  if cur and is_at_window(cur) then
    return fail('window_busy', 'window ' .. window .. ' still has ticket ' .. w.current .. ' ' .. cur,
                {current_ticket = w.current, current_status = cur})
  end
  return nil
end

-- The refusal of a resident's one-time SMS code (residents/) unless ``digest`` is its digest; nil if
-- right (the caller uses it up). An expired code is gone; a wrong one uses an attempt, and the last
-- allowed one kills the code.
local function refuse_code(key, digest, attempts, now)
  local code = hgetall(key)
  if code.digest and now >= tonumber(code.expires) then
    redis.call('DEL', key)
    code = {}
  end
  if not code.digest then
    return fail('code_invalid', 'no code is pending for this number at this center (expired or used); ask for a new one')
  end
  if code.digest ~= digest then
    local left = attempts - redis.call('HINCRBY', key, 'attempts', 1)
    if left <= 0 then
      redis.call('DEL', key)
      return fail('code_dead', 'too many wrong codes: this code no longer works; ask for a new one')
    end
    return fail('code_wrong', 'the code is not right', {attempts_left = left})
  end
  return nil
end

-- A remote video session (remote_session/) as the events carry it: its times as numbers.
local function session_view(s)
  local out = {}
  for k, v in pairs(s) do out[k] = v end
  out.started_at = tonumber(s.started_at)
  out.ended_at = tonumber(s.ended_at)
  return out
end

-- End the video session a remote window holds (remote_session/), if any: one session.closed on the
-- center's stream. Only the session of ``ticket`` when one is named; a session of another ticket is
-- kept and returned as the second value. Returns the session ended, or nil.
local function close_session(base, center, window, ticket, reason, now, events, maxlen)
  local key = base .. 'rtc:' .. window
  local s = hgetall(key)
  if not s.id then return nil end
  if ticket and s.ticket ~= ticket then return nil, s end
  redis.call('DEL', key)
  s.ended_at = now
  local body = {center = center, session = session_view(s), window = window_view(base, window), reason = reason}
  local t = hgetall(base .. 't:' .. s.ticket)
  if t.id then body.ticket = view(t) end
  emit(events, maxlen, 'session.closed', now, body)
  return s
end
