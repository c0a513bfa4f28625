-- Record one visit: check max visits, count, store the raw visit and the day counts.
-- KEYS: link hash, raw visits, day counts.
-- ARGV: count '1'|'0', fast '1'|'0' (also read the link; record only if it is open),
--       visit time key, visit JSON, day, raw cap (0 = none), oldest time key kept or '',
--       then extra day-count fields.
-- Returns {status, count[, link fields]}: status -1 no link, 0 refused (max visits),
-- 1 recorded, 2 not open (fast path only; nothing recorded).
local h = redis.call('HMGET', KEYS[1], 'v', 'm', 'o', 'e', 'x')
if not h[1] then return {-1, 0} end
local n = tonumber(h[1])
local status = 1
if ARGV[2] == '1' and (h[3] ~= '1' or (h[4] and ARGV[3] >= h[4])) then
  status = 2
elseif ARGV[1] == '1' and h[2] and n >= tonumber(h[2]) then
  status = 0
else
  if ARGV[1] == '1' then n = redis.call('HINCRBY', KEYS[1], 'v', 1) end
  local seq = redis.call('HINCRBY', KEYS[1], 's', 1)
  redis.call('ZADD', KEYS[2], 0, ARGV[3] .. string.format('%016x', seq) .. ARGV[4])
  local cap = tonumber(ARGV[6])
  if cap > 0 and redis.call('ZCARD', KEYS[2]) > cap then
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(cap + 1))
  end
  if ARGV[7] ~= '' then redis.call('ZREMRANGEBYLEX', KEYS[2], '-', '(' .. ARGV[7]) end
  redis.call('HINCRBY', KEYS[3], ARGV[5], 1)
  for i = 8, #ARGV do redis.call('HINCRBY', KEYS[3], ARGV[i], 1) end
  if h[5] then
    redis.call('PEXPIREAT', KEYS[2], h[5])
    redis.call('PEXPIREAT', KEYS[3], h[5])
  end
end
if ARGV[2] == '1' then return {status, n, redis.call('HGETALL', KEYS[1])} end
return {status, n}
