-- device_presence: announce each registered device's transitions between online and offline, once.
-- KEYS[1] the center's presence hash (realtime/presence.py), KEYS[2] its device states hash,
-- KEYS[3] its event stream. ARGV[1] now (ms), ARGV[2] stream maxlen, then per device four values:
-- id, presence field, offline after (ms), the device as JSON (the event's "device").
-- A device is online when heard from within its threshold. The state and its event change together
-- here, so however many instances watch, each transition is emitted exactly once. A device never
-- seen before is recorded without an event when offline (just registered), with device.online when on.
-- Returns the ids of the devices whose state changed.
local now = tonumber(ARGV[1])
local changed = {}
for i = 3, #ARGV, 4 do
  local id, field, after = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local seen = nil
  local raw = redis.call('HGET', KEYS[1], field)
  if raw then
    local ok, d = pcall(cjson.decode, raw)
    if ok and type(d) == 'table' and tonumber(d.last_seen) then seen = tonumber(d.last_seen) end
  end
  local state = 'offline'
  if seen and now - seen <= after then state = 'online' end
  local before = redis.call('HGET', KEYS[2], id)
  if before ~= state then
    redis.call('HSET', KEYS[2], id, state)
    if before or state == 'online' then
      local body = {device = cjson.decode(ARGV[i + 3]), last_seen = seen or cjson.null}
      emit(KEYS[3], ARGV[2], 'device.' .. state, now, body)
      table.insert(changed, id)
    end
  end
end
return changed
