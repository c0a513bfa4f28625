-- Change some fields of an existing link; the count and visits are untouched.
-- KEYS: link hash, raw visits, day counts, then the stats keys (see visit.lua).
-- ARGV: index base ('' = caller syncs), code, expiry ('' unchanged, 'P' none, or ms),
--       number of pairs n, n field/value pairs, then fields to remove.
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local n = tonumber(ARGV[4])
if n > 0 then
  local set = {}
  for i = 5, 4 + 2 * n do set[#set + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], unpack(set))
end
for i = 5 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
if ARGV[3] == 'P' then
  redis.call('HDEL', KEYS[1], 'x')
  for i = 1, #KEYS do redis.call('PERSIST', KEYS[i]) end
elseif ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'x', ARGV[3])
  for i = 1, #KEYS do redis.call('PEXPIREAT', KEYS[i], ARGV[3]) end
end
refresh_open(KEYS[1])
local ver = next_ver(redis.call('HGET', KEYS[1], 'ver'))
redis.call('HSET', KEYS[1], 'ver', ver)
local h = redis.call('HMGET', KEYS[1], 'c', 'tags', 'x')
local expire_ms = h[3] or ''
if ARGV[1] ~= '' then index_sync(ARGV[1], ARGV[2], ver, h[1], h[2], expire_ms) end
return {1, ver, h[1], h[2], expire_ms, redis.call('HGETALL', KEYS[1])}
