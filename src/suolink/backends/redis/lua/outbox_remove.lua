-- Remove an endpoint with its waiting and dead messages. ARGV: base, endpoint id.
local base, ep = ARGV[1], ARGV[2]
local existed = redis.call('HDEL', base .. ':ep', ep)
for _, id in ipairs(redis.call('LRANGE', base .. ':q:' .. ep, 0, -1)) do
  redis.call('DEL', base .. ':m:' .. id)
end
redis.call('DEL', base .. ':q:' .. ep)
redis.call('SREM', base .. ':lines', ep)
for _, id in ipairs(redis.call('LRANGE', base .. ':dead', 0, -1)) do
  if redis.call('HGET', base .. ':m:' .. id, 'endpoint_id') == ep then
    redis.call('LREM', base .. ':dead', 0, id)
    redis.call('DEL', base .. ':m:' .. id)
  end
end
return existed
