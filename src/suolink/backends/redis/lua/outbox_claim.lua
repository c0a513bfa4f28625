-- Lease the due head of each endpoint's line. ARGV: base, worker, now_us, until_us, limit.
-- A head leased to anyone until after now is skipped (its line waits). Returns rows of
-- id, endpoint id, event, body, created_us, attempts, next_us.
local base, worker = ARGV[1], ARGV[2]
local now, limit = tonumber(ARGV[3]), tonumber(ARGV[5])
local out = {}
for _, ep in ipairs(redis.call('SMEMBERS', base .. ':lines')) do
  if #out >= limit then break end
  local id = redis.call('LINDEX', base .. ':q:' .. ep, 0)
  if not id then
    redis.call('SREM', base .. ':lines', ep)
  else
    local m = base .. ':m:' .. id
    local f = redis.call('HMGET', m, 'next_us', 'until')
    if tonumber(f[1]) <= now and (not f[2] or tonumber(f[2]) <= now) then
      redis.call('HSET', m, 'owner', worker, 'until', ARGV[4])
      local v = redis.call('HMGET', m, 'endpoint_id', 'event', 'body', 'created_us', 'attempts',
        'next_us')
      out[#out + 1] = {id, v[1], v[2], v[3], v[4], v[5], v[6]}
    end
  end
end
return out
