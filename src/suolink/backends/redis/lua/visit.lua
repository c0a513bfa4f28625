-- Record k visits of one link (those of one pipeline), each as if by a script of its own:
-- check max visits, count, store the raw visit and the day counts. The counters of the
-- batch are summed first, so a hot link's k visits cost one HINCRBY per distinct field.
-- KEYS: link hash, raw visits, day counts; stats: all-time counts (hash: 'ok' once the
--       link's first visit was counted here, 't|day' per-day totals, 'dim|value'),
--       per-day counts (hash 'day|dim|value'), people (sorted set visitor -> visits),
--       people per day (hash 'day|visitor').
-- ARGV: k, then per visit its number of arguments m and its m arguments:
--       count '1'|'0', mode: '0' plain, 'o'..ver (one trip: record only if the link is
--       open; its fields returned unless its version is ver, the caller's cached one) or
--       'v'..ver (append: record only if the link is still at version ver, the one the
--       caller planned the redirect with; its fields returned if not), visit time key,
--       visit JSON, day, raw cap (0 = none), oldest time key kept or '', number n of
--       day-count fields, n day-count fields, visitor ('' none), then the visit's
--       'dim|value' stats cells.
-- Returns one reply per visit, {status, count, link fields or 0, campaign JSON, recipient
-- JSON, version}: status -1 no link ({-1, 0}), 0 refused (max visits), 1 recorded, 2 not
-- open ('o' only; nothing recorded), 3 changed since planned ('v' only; nothing recorded).
-- The fields (HGETALL) come only in modes 'o' and 'v', and only if the caller's version
-- is not the link's: a cached link costs no bytes. Campaign and recipient ('' if absent)
-- let the caller count people on the campaign's own slot (people.lua).
local k = tonumber(ARGV[1])
local out = {}
local h = redis.call('HMGET', KEYS[1], 'v', 'm', 'o', 'e', 'x', 'campaign', 'recipient', 'ver', 's')
if not h[1] then
  for i = 1, k do out[i] = {-1, 0} end
  return out
end
local n, n0 = tonumber(h[1]), tonumber(h[1])
local seq, seq0 = tonumber(h[9] or '0'), tonumber(h[9] or '0')
local limit = h[2] and tonumber(h[2])
local ver = h[8] or ''
local c, r = h[6] or '', h[7] or ''
-- Summed increments: sums[i][field] for KEYS[i] (hashes 3, 4, 5, 7; sorted set 6).
local sums = {[3] = {}, [4] = {}, [5] = {}, [6] = {}, [7] = {}}
local order = {[3] = {}, [4] = {}, [5] = {}, [6] = {}, [7] = {}}
local function add(i, field)
  local s = sums[i]
  if not s[field] then
    s[field] = 0
    order[i][#order[i] + 1] = field
  end
  s[field] = s[field] + 1
end
local members, cap, cutoff = {}, 0, ''
local wants = {}
local pos = 2
for i = 1, k do
  local m = tonumber(ARGV[pos])
  local a = {}
  for j = 1, m do a[j] = ARGV[pos + j] end
  pos = pos + m + 1
  local mode = string.sub(a[2], 1, 1)
  local known = mode ~= '0' and ver ~= '' and string.sub(a[2], 2) == ver
  local status = 1
  if mode == 'o' and (h[3] ~= '1' or (h[4] and a[3] >= h[4])) then
    status = 2
  elseif mode == 'v' and not known then
    status = 3
  elseif a[1] == '1' and limit and n >= limit then
    status = 0
  else
    if a[1] == '1' then n = n + 1 end
    seq = seq + 1
    members[#members + 1] = 0
    members[#members + 1] = a[3] .. string.format('%016x', seq) .. a[4]
    cap = tonumber(a[6])
    if a[7] > cutoff then cutoff = a[7] end
    local day = a[5]
    add(3, day)
    local n_day = tonumber(a[8])
    for j = 9, 8 + n_day do add(3, a[j]) end
    add(4, 't|' .. day)
    for j = 10 + n_day, m do
      add(4, a[j])
      add(5, day .. '|' .. a[j])
    end
    local who = a[9 + n_day]
    if who ~= '' then
      add(6, who)
      add(7, day .. '|' .. who)
    end
  end
  out[i] = {status, n, 0, c, r, ver}
  if mode ~= '0' and not known then wants[#wants + 1] = i end
end
if seq ~= seq0 then
  redis.call('HSET', KEYS[1], 'v', n, 's', seq)
  for start = 1, #members, 7000 do
    redis.call('ZADD', KEYS[2], unpack(members, start, math.min(start + 6999, #members)))
  end
  if cap > 0 and redis.call('ZCARD', KEYS[2]) > cap then
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(cap + 1))
  end
  if cutoff ~= '' then redis.call('ZREMRANGEBYLEX', KEYS[2], '-', '(' .. cutoff) end
  if seq0 == 0 then redis.call('HSET', KEYS[4], 'ok', 1) end
  for i = 3, 7 do
    local s = sums[i]
    for _, field in ipairs(order[i]) do
      if i == 6 then
        redis.call('ZINCRBY', KEYS[6], s[field], field)
      else
        redis.call('HINCRBY', KEYS[i], field, s[field])
      end
    end
  end
  if h[5] then
    for i = 2, #KEYS do redis.call('PEXPIREAT', KEYS[i], h[5]) end
  end
end
if #wants > 0 then
  local fields = redis.call('HGETALL', KEYS[1])
  for _, i in ipairs(wants) do out[i][3] = fields end
end
return out
