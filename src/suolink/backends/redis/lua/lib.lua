-- Shared by every suolink script (prepended when the script is loaded).
-- Link hash fields: the Link fields as JSON text, plus v (count), s (visit sequence),
-- c (created key), e (expiry key), m (max visits), x (Redis expiry in ms), o (open),
-- ver (version of the link's listing state).

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- A version greater than any the link had, from the server clock, for the index.
local function next_ver(old)
  local v = now_us()
  local o = tonumber(old or '')
  if o and o >= v then v = o + 1 end
  return string.format('%.0f', v)
end

-- "o" is 1 when no link setting can refuse a visitor, so the fast path may record:
-- enabled, no password, no allow or deny list, and anti-block by the preset or off
-- (the caller uses the fast path only for people outside the preset's apps); and no
-- weighted split (the arm, recorded with the visit, is chosen by the policy), and no
-- country rules (the visitor's country is the policy's to judge), no warning
-- interstitial, not disabled for abuse, and bound to no domain or pool (the host decides).
-- A field absent from the hash (a link older than it) reads as false: its default.
local function refresh_open(key)
  local f = redis.call(
    'HMGET', key, 'disabled', 'password_hash', 'allow', 'deny', 'anti_block', 'anti_block_mode',
    'split', 'allow_countries', 'deny_countries', 'warning', 'abuse_status', 'domain', 'pool')
  local open = f[1] == 'false' and f[2] == 'null' and f[3] == 'null' and f[4] == '[]'
    and (f[5] == 'null' or f[6] == '"off"')
    and (not f[7] or f[7] == '[]') and (not f[8] or f[8] == 'null')
    and (not f[9] or f[9] == '[]') and (not f[10] or f[10] == 'null')
    and (not f[11] or f[11] == 'null')
    and (not f[12] or f[12] == 'null') and (not f[13] or f[13] == 'null')
  redis.call('HSET', key, 'o', open and '1' or '0')
end

local function unindex(base, code, entry)
  local o = cjson.decode(entry)
  if o[2] ~= '' then
    local member = o[2] .. code
    redis.call('ZREM', base .. ':a', member)
    for _, tag in ipairs(o[3]) do redis.call('ZREM', base .. ':t:' .. tag, member) end
  end
  return o
end

-- Make the listing index agree with one link at version ver; older versions are ignored,
-- so syncs may arrive late or twice. created == '' means the link is gone (tombstone).
local function index_sync(base, code, ver, created, tags_json, expire_ms)
  local meta = base .. ':m'
  local old = redis.call('HGET', meta, code)
  if old then
    if tonumber(cjson.decode(old)[1]) >= tonumber(ver) then return 0 end
    unindex(base, code, old)
  end
  local now_ms = math.floor(now_us() / 1000)
  if created ~= '' then
    local member = created .. code
    local tags = cjson.decode(tags_json)
    redis.call('ZADD', base .. ':a', 0, member)
    for _, tag in ipairs(tags) do redis.call('ZADD', base .. ':t:' .. tag, 0, member) end
    redis.call('HSET', meta, code, cjson.encode({ver, created, tags}))
    if expire_ms ~= '' then
      redis.call('ZADD', base .. ':x', expire_ms, code)
    else
      redis.call('ZREM', base .. ':x', code)
    end
  else
    redis.call('HSET', meta, code, cjson.encode({ver, '', {}}))
    redis.call('ZADD', base .. ':x', now_ms + 3600000, code)
  end
  -- Drop entries of links Redis has expired, and old tombstones, a few per call.
  local due = redis.call('ZRANGEBYSCORE', base .. ':x', '-inf', now_ms, 'LIMIT', 0, 16)
  for _, c in ipairs(due) do
    local entry = redis.call('HGET', meta, c)
    if entry then
      unindex(base, c, entry)
      redis.call('HDEL', meta, c)
    end
    redis.call('ZREM', base .. ':x', c)
  end
  return 1
end
