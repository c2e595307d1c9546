-- Everything a screen needs, read at one instant together with the stream position it is valid at.
-- KEYS: 1 events, 2 live set   ARGV: 1 base, 2 now, 3 windows csv, 4 queues csv,
--       5 one window ('' = all): only its tickets, read whole (a window screen's opening)
local base = ARGV[1]
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local cursor = '0-0'
if last[1] then cursor = last[1][1] end
local windows = {}
for w in string.gmatch(ARGV[3], '[^,]+') do windows[#windows + 1] = window_view(base, w) end
local waiting = {}
for q in string.gmatch(ARGV[4], '[^,]+') do
  local qb = base .. 'w:' .. q .. ':'
  waiting[q] = redis.call('ZCARD', qb .. 'p') + redis.call('ZCARD', qb .. 'a') + redis.call('ZCARD', qb .. 'n')
end
local tickets = {}
local only = ARGV[5] or ''
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = base .. 't:' .. id
  if only == '' or redis.call('HGET', key, 'window') == only then
    local t = hgetall(key)
    if t.id then tickets[#tickets + 1] = view(t) end
  end
end
return cjson.encode({cursor = cursor, windows = windows, waiting = waiting, tickets = tickets})
