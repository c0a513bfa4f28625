-- Record one visit: check max visits, count, store the raw visit and the day counts.
-- KEYS: link hash, raw visits, day counts; stats: all-time counts (hash: 'ok' once the
--       link's first visit was counted here, 't|day' per-day totals, 'dim|value'),
--       per-day counts (hash 'day|dim|value'), people (sorted set visitor -> visits),
--       people per day (hash 'day|visitor').
-- ARGV: count '1'|'0', mode: '0' plain, 'o'..ver (one trip: record only if the link is
--       open; its fields returned unless its version is ver, the caller's cached one) or
--       'v'..ver (append: record only if the link is still at version ver, the one the
--       caller planned the redirect with; its fields returned if not), visit time key, visit JSON, day, raw cap (0 = none), oldest time key kept or '',
--       number n of day-count fields, n day-count fields, visitor ('' none), then the
--       visit's 'dim|value' stats cells.
-- Returns {status, count, link fields or 0, campaign JSON, recipient JSON, version}:
-- status -1 no link ({-1, 0}), 0 refused (max visits), 1 recorded, 2 not open ('o' only;
-- nothing recorded), 3 changed since planned ('v' only; nothing recorded). The fields
-- (HGETALL) come only in modes 'o' and 'v', and only if the caller's version is not the
-- link's: a cached link costs no bytes. Campaign and recipient ('' if absent) let the
-- caller count people on the campaign's own slot (people.lua).
local h = redis.call('HMGET', KEYS[1], 'v', 'm', 'o', 'e', 'x', 'campaign', 'recipient', 'ver')
if not h[1] then return {-1, 0} end
local n = tonumber(h[1])
local status = 1
local mode = string.sub(ARGV[2], 1, 1)
local ver = h[8] or ''
local known = mode ~= '0' and ver ~= '' and string.sub(ARGV[2], 2) == ver
if mode == 'o' and (h[3] ~= '1' or (h[4] and ARGV[3] >= h[4])) then
  status = 2
elseif mode == 'v' and not known then
  status = 3
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
  local day = ARGV[5]
  redis.call('HINCRBY', KEYS[3], day, 1)
  local n_day = tonumber(ARGV[8])
  for i = 9, 8 + n_day do redis.call('HINCRBY', KEYS[3], ARGV[i], 1) end
  if seq == 1 then redis.call('HSET', KEYS[4], 'ok', 1) end
  redis.call('HINCRBY', KEYS[4], 't|' .. day, 1)
  for i = 10 + n_day, #ARGV do
    redis.call('HINCRBY', KEYS[4], ARGV[i], 1)
    redis.call('HINCRBY', KEYS[5], day .. '|' .. ARGV[i], 1)
  end
  local who = ARGV[9 + n_day]
  if who ~= '' then
    redis.call('ZINCRBY', KEYS[6], 1, who)
    redis.call('HINCRBY', KEYS[7], day .. '|' .. who, 1)
  end
  if h[5] then
    for i = 2, #KEYS do redis.call('PEXPIREAT', KEYS[i], h[5]) end
  end
end
local c, r = h[6] or '', h[7] or ''
if mode ~= '0' and not known then return {status, n, redis.call('HGETALL', KEYS[1]), c, r, ver} end
return {status, n, 0, c, r, ver}
