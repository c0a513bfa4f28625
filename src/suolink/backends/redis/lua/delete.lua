-- Delete a link, its raw visits and its day counts; leave a tombstone if asked.
-- KEYS: link hash, raw visits, day counts, tombstone.
-- ARGV: index base ('' = caller syncs), code, deletion time in ms ('' = no tombstone).
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local ver = next_ver(redis.call('HGET', KEYS[1], 'ver'))
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if ARGV[3] ~= '' then redis.call('SET', KEYS[4], ARGV[3], 'NX') end
if ARGV[1] ~= '' then index_sync(ARGV[1], ARGV[2], ver, '', '[]', '') end
return {1, ver}
