-- Settle a message the worker holds. ARGV: base, worker, message id, endpoint id, outcome,
-- attempt, next_us (failed), the delivery as JSON. 0 if the worker does not hold the head.
local base, worker, id, ep, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local m = base .. ':m:' .. id
local q = base .. ':q:' .. ep
if redis.call('LINDEX', q, 0) ~= id or redis.call('HGET', m, 'owner') ~= worker then
  return 0
end
if outcome == 'failed' then
  redis.call('HSET', m, 'attempts', ARGV[6], 'next_us', ARGV[7])
  redis.call('HDEL', m, 'owner', 'until')
else
  redis.call('LPOP', q)
  if outcome == 'dead' then
    redis.call('HSET', m, 'attempts', ARGV[6])
    redis.call('HDEL', m, 'owner', 'until')
    redis.call('LPUSH', base .. ':dead', id)
  else
    redis.call('DEL', m)
  end
end
redis.call('LPUSH', base .. ':log', ARGV[8])
redis.call('LPUSH', base .. ':log:' .. ep, ARGV[8])
redis.call('SADD', base .. ':logs', ep)
return 1
