-- Cluster mode: bring the listing index up to date with one link (see index_sync).
-- KEYS: the index's meta hash (fixes the slot). ARGV: base, code, ver, created key, tags
-- JSON, expiry ms or ''.
return index_sync(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
