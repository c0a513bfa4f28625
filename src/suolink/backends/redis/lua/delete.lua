-- Delete a link, its raw visits, its day counts and its stats counts.
-- KEYS: link hash, raw visits, day counts, then the stats keys (see visit.lua). ARGV: index base ('' = caller syncs), code.
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local ver = next_ver(redis.call('HGET', KEYS[1], 'ver'))
redis.call('DEL', unpack(KEYS))
if ARGV[1] ~= '' then index_sync(ARGV[1], ARGV[2], ver, '', '[]', '') end
return {1, ver}
