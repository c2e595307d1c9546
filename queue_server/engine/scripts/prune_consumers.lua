-- Forget the consumers of ended processes (one name per host and pid: every restart adds one) that
-- hold nothing pending and have been idle at least ARGV[3] ms, never ARGV[2] (the caller itself).
-- Atomic, so no consumer can take an entry between the check and the removal: DELCONSUMER drops
-- the pending entries of the consumer it removes.
-- KEYS: 1 stream; ARGV: 1 group, 2 own consumer name, 3 idle ms. Returns the names removed.
local gone = {}
local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(consumers) ~= 'table' or consumers.err then return gone end
for _, c in ipairs(consumers) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f.name ~= ARGV[2] and tonumber(f.pending) == 0 and tonumber(f.idle) >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f.name)
    gone[#gone + 1] = f.name
  end
end
return gone
