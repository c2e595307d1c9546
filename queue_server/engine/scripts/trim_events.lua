-- Trim a center's event stream to what its readers still need: entries older than the replay window
-- (the newest ARGV[1], kept for reconnecting screens) go once every consumer group (the record, the
-- evaluation) is past them — never one a group has not read, or read and not acknowledged. Only
-- when the stream holds more than ARGV[2] entries do the oldest go unread; those are the losses,
-- counted per group, and the pending ones among them are acknowledged (a consumer would only find
-- them empty), as are pending entries something else trimmed first (XADD's last-resort cap). At most ARGV[3] entries are looked at and removed per call; the caller comes back.
-- Atomic, so no group moves between reading its position and the trim.
-- KEYS: 1 stream; ARGV: 1 replay window, 2 cap, 3 most entries per call.
-- Returns {entries removed, group, lost, group, lost, ...} (only the groups that lost any).
local stream = KEYS[1]
local keep, cap, most = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local len = redis.call('XLEN', stream)
if len <= keep then return {0} end

local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq), ms
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local function next_id(id)
  local _, seq, ms = parse(id)
  return ms .. '-' .. string.format('%d', seq + 1)
end

-- Acknowledge the group's pending entries below ``below`` (gone from the stream, or about to go);
-- returns how many: each one a lost event.
local function give_up(name, below)
  local gone = redis.call('XPENDING', stream, name, '-', '(' .. below, most)
  if #gone == 0 then return 0 end
  local ids = {}
  for i, p in ipairs(gone) do ids[i] = p[1] end
  redis.call('XACK', stream, name, unpack(ids))
  return #gone
end

local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', math.min(len - keep, most) + 1)
local minid = oldest[#oldest][1]        -- the first entry the replay window (or this call's share) keeps
local groups = {}
for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  local pending, lost = tonumber(f.pending), 0
  if pending > 0 then                   -- pending entries someone else trimmed (XADD's cap) first
    lost = give_up(f.name, oldest[1][1])
    pending = pending - lost
  end
  local needs = next_id(f['last-delivered-id'])
  if pending > 0 then needs = redis.call('XPENDING', stream, f.name)[2] end
  groups[#groups + 1] = {f.name, f['last-delivered-id'], pending, lost}
  if less(needs, minid) then minid = needs end
end
if len > cap then                       -- the last resort: the oldest go, read or not
  local forced = oldest[math.min(len - cap, most) + 1][1]
  if less(minid, forced) then minid = forced end
end

local out = {0}
for _, g in ipairs(groups) do
  local name, delivered, pending, lost = g[1], g[2], g[3], g[4]
  for _, e in ipairs(oldest) do
    if not less(e[1], minid) then break end
    if less(delivered, e[1]) then lost = lost + 1 end           -- never delivered
  end
  if pending > 0 then lost = lost + give_up(name, minid) end  -- delivered, never acknowledged
  if lost > 0 then out[#out + 1] = name; out[#out + 1] = lost end
end
out[1] = redis.call('XTRIM', stream, 'MINID', minid)
return out
