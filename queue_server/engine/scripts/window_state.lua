-- Open, pause or close a window, with the staff on duty; keeps the per-queue sets of open windows.
-- KEYS: 1 window hash, 2 events, 3.. open-window sets of the queues it serves
-- ARGV: 1 base, 2 center, 3 window, 4 state, 5 now, 6 staff json ('{}' keeps the current staff),
--       7 pause reason, 8 stream maxlen
local base, center, window, state, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local w = hgetall(KEYS[1])
if state == 'closed' then
  local refused = busy(base, window, w)
  if refused then return refused end
end
local staff = cjson.decode(ARGV[6])
local fields = {'state', state, 'since', now, 'pause_reason', ARGV[7]}
if state == 'closed' then
  for _, f in ipairs({'staff_id', 'staff_name', 'staff_no', 'staff_photo'}) do
    fields[#fields + 1] = f; fields[#fields + 1] = ''
  end
else
  for k, v in pairs(staff) do fields[#fields + 1] = 'staff_' .. k; fields[#fields + 1] = tostring(v) end
end
redis.call('HSET', KEYS[1], unpack(fields))
for i = 3, #KEYS do
  if state == 'open' then redis.call('SADD', KEYS[i], window) else redis.call('SREM', KEYS[i], window) end
end
local kinds = {open = 'window.opened', paused = 'window.paused', closed = 'window.closed'}
local body = {center = center, window = window_view(base, window)}
body.event_id = emit(KEYS[2], ARGV[8], kinds[state], now, body)
-- a window that pauses or closes ends the video session it held (remote_session/)
if state ~= 'open' then close_session(base, center, window, nil, 'window_' .. state, now, KEYS[2], ARGV[8]) end
return cjson.encode(body)
