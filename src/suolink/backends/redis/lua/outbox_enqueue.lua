-- The webhook outbox (suolink.backends.redis._outbox): append messages to their lines.
-- KEYS[1] the endpoints hash (routes the script); ARGV[1] the outbox's key base, then
-- per message: id, endpoint id, event, body, created_us, next_us. Unknown endpoints'
-- messages are dropped. Returns how many were queued.
local base = ARGV[1]
local queued = 0
for i = 2, #ARGV, 6 do
  local id, ep = ARGV[i], ARGV[i + 1]
  if redis.call('HEXISTS', base .. ':ep', ep) == 1 then
    redis.call('HSET', base .. ':m:' .. id, 'endpoint_id', ep, 'event', ARGV[i + 2],
      'body', ARGV[i + 3], 'created_us', ARGV[i + 4], 'attempts', 0, 'next_us', ARGV[i + 5])
    redis.call('RPUSH', base .. ':q:' .. ep, id)
    redis.call('SADD', base .. ':lines', ep)
    queued = queued + 1
  end
end
return queued
