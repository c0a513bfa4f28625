-- Delete a link, its raw visits, day counts and stats counts; leave a tombstone if asked.
-- KEYS: link hash, raw visits, day counts, the stats keys (see visit.lua), and last the
--       tombstone. ARGV: index base ('' = caller syncs), code, deletion time in ms
--       ('' = no tombstone).
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local ver = next_ver(redis.call('HGET', KEYS[1], 'ver'))
local tomb = KEYS[#KEYS]
for i = 1, #KEYS - 1 do redis.call('DEL', KEYS[i]) end
if ARGV[3] ~= '' then redis.call('SET', tomb, ARGV[3], 'NX') end
if ARGV[1] ~= '' then index_sync(ARGV[1], ARGV[2], ver, '', '[]', '') end
return {1, ver}
