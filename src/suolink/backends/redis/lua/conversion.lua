-- Record a conversion unless the link has one of its (kind, click id).
-- KEYS: link hash, the link's conversions hash (same slot). ARGV: field (kind, a newline,
--       click id), the conversion as JSON. Returns {0}: no link; {1}: stored;
--       {2, stored}: already there (the stored value: 16 hex digits of order, then JSON).
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then return {2, old} end
local seq = redis.call('HLEN', KEYS[2])
redis.call('HSET', KEYS[2], ARGV[1], string.format('%016x', seq) .. ARGV[2])
-- An expiring link's keys go together: the conversions follow the link hash's time.
local x = redis.call('HGET', KEYS[1], 'x')
if x then redis.call('PEXPIREAT', KEYS[2], x) end
return {1}
