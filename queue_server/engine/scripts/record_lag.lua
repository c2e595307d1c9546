-- How far the PostgreSQL record is behind each center's stream (record/persister.py ``lag``), from the
-- group's own counters, never by reading the backlog: XINFO GROUPS gives the pending count and, on
-- Redis >= 7, the undelivered one (``lag``); the age needs only the id of the oldest pending entry
-- (XPENDING's summary) or of the first undelivered one (one entry after the last delivered). On Redis
-- 6.2 (no ``lag``), or when Redis cannot tell, the undelivered are counted by reading at most that many.
-- Worked out here so the caller parses three numbers a center, not the group's whole description.
-- Several centers a call (each_center): per center KEYS its stream, no arguments of its own; shared
-- 1 group, 2 most undelivered entries counted.
-- Returns for each center, in order, {pending, undelivered, lag in ms}, or {} when the stream, its
-- group or its entries are missing.
local function behind(stream, group, most)
  if redis.call('EXISTS', stream) == 0 then return {} end
  local found = nil
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local fields = {}
    for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
    if fields['name'] == group then found = fields break end
  end
  if not found then return {} end
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if #last == 0 then return {} end
  local newest, delivered, pending = last[1][1], found['last-delivered-id'], found['pending']
  local undelivered = found['lag']   -- nil on 6.2, false when Redis cannot tell
  if undelivered == false then undelivered = nil end

  local oldest = nil
  if pending > 0 then oldest = redis.call('XPENDING', stream, group)[2] end
  local after = {}
  if newest ~= delivered and (undelivered == nil or pending == 0) then
    after = redis.call('XRANGE', stream, '(' .. delivered, '+', 'COUNT', undelivered ~= nil and 1 or most)
  end
  -- From the oldest entry not yet recorded (pending, else the first undelivered): measuring from the
  -- last delivered one instead counted a quiet stream's gap between two events as lag.
  if not oldest and #after > 0 then oldest = after[1][1] end
  local lag_ms = 0
  if oldest then
    lag_ms = math.max(0, tonumber(string.match(newest, '^(%d+)')) - tonumber(string.match(oldest, '^(%d+)')))
  end
  return {pending, undelivered or #after, lag_ms}
end

return each_center(function(keys, _, shared) return behind(keys[1], shared[1], tonumber(shared[2])) end)
