-- Give up a claim whose ticket could not be issued (closed, Redis or PostgreSQL away): the number may
-- claim again at once. Only the claim made by this request is removed, never a newer one.
-- KEYS: 1 the number's claim at the center   ARGV: 1 this claim's issue key
if redis.call('HGET', KEYS[1], 'key') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return cjson.encode({ok = true})
