-- Read a link's stats counts in one atomic step.
-- KEYS: link hash, then the stats keys of visit.lua (all-time, per day, people, people
--       per day). ARGV: whole history '1'|'0', how many top visitors.
-- Returns {visit sequence, all-time hash, then for the whole history: people count,
-- the top visitors above the last one's count, the first ties at that count; for a
-- window: the per-day hash and the people-per-day hash}.
local seq = redis.call('HGET', KEYS[1], 's') or '0'
local all = redis.call('HGETALL', KEYS[2])
if ARGV[1] ~= '1' then
  return {seq, all, redis.call('HGETALL', KEYS[3]), redis.call('HGETALL', KEYS[5])}
end
local top = tonumber(ARGV[2])
local first = redis.call('ZREVRANGE', KEYS[4], top - 1, top - 1, 'WITHSCORES')
local above, ties = {}, {}
if first[2] then
  -- Sorted sets order equal scores by member, ascending: the ties come out ranked.
  above = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. first[2], '+inf', 'WITHSCORES')
  ties = redis.call('ZRANGEBYSCORE', KEYS[4], first[2], first[2], 'WITHSCORES', 'LIMIT', 0, top)
else
  above = redis.call('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES')
end
return {seq, all, redis.call('ZCARD', KEYS[4]), above, ties}
