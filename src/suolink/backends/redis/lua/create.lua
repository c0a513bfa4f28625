-- Create a link if its code is free: no link holds it and no tombstone retired it.
-- KEYS: link hash, raw visits, day counts, the stats keys (see visit.lua), and last the
--       tombstone. ARGV: index base ('' = caller syncs the index), code, created key,
--       expiry ms or '', then field/value pairs.
local tomb = KEYS[#KEYS]
if redis.call('EXISTS', KEYS[1], tomb) > 0 then return {0} end
for i = 2, #KEYS - 1 do redis.call('DEL', KEYS[i]) end
local pairs_ = {}
for i = 5, #ARGV do pairs_[#pairs_ + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(pairs_))
local ver = next_ver(nil)
redis.call('HSET', KEYS[1], 'v', 0, 's', 0, 'c', ARGV[3], 'ver', ver)
refresh_open(KEYS[1])
local tags = redis.call('HGET', KEYS[1], 'tags')
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'x', ARGV[4])
  redis.call('PEXPIREAT', KEYS[1], ARGV[4])
end
if ARGV[1] ~= '' then index_sync(ARGV[1], ARGV[2], ver, ARGV[3], tags, ARGV[4]) end
return {1, ver, tags}
