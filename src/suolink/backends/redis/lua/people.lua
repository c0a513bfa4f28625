-- Count one person's click in one scope (a campaign, or every campaign), on its own slot.
-- KEYS: visitors (sorted set visitor -> -clicks), visitor fields (hash 'v|l' distinct
--       links, 'v|f' first, 'v|z' last), visitor links (set 'v|code'), then for a
--       recipient's link: recipients (sorted set -> -clicks), recipient fields (hash
--       'r|l', 'r|f', 'r|z', 'r|o' own visitor, 'r|r' reach), recipient links (set
--       'r|code'), recipient visitors (set 'r|visitor'), totals (hash clicks, reach).
-- ARGV: visitor, code, time key, recipient ('' none).
-- Scores are minus the clicks, so ZRANGEBYSCORE gives most clicks first, ties by id.
local who, code, at, r = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function seen(hash, id)
  local f = redis.call('HGET', hash, id .. '|f')
  if not f or at < f then redis.call('HSET', hash, id .. '|f', at) end
  local z = redis.call('HGET', hash, id .. '|z')
  if not z or at > z then redis.call('HSET', hash, id .. '|z', at) end
end
redis.call('ZINCRBY', KEYS[1], -1, who)
if redis.call('SADD', KEYS[3], who .. '|' .. code) == 1 then
  redis.call('HINCRBY', KEYS[2], who .. '|l', 1)
end
seen(KEYS[2], who)
if r ~= '' then
  redis.call('ZINCRBY', KEYS[4], -1, r)
  redis.call('HINCRBY', KEYS[8], 'clicks', 1)
  if redis.call('SADD', KEYS[6], r .. '|' .. code) == 1 then
    redis.call('HINCRBY', KEYS[5], r .. '|l', 1)
  end
  seen(KEYS[5], r)
  if redis.call('SADD', KEYS[7], r .. '|' .. who) == 1 then
    if redis.call('HEXISTS', KEYS[5], r .. '|o') == 0 then
      redis.call('HSET', KEYS[5], r .. '|o', who)
    else
      redis.call('HINCRBY', KEYS[5], r .. '|r', 1)
      redis.call('HINCRBY', KEYS[8], 'reach', 1)
    end
  end
end
return 1
