-- Forget log rows and dead messages older than ARGV[2] (micros). ARGV[1]: base.
-- Lists hold the newest first, so the old ones are popped from the tail.
local base, before = ARGV[1], tonumber(ARGV[2])
local function prune_log(key)
  local n = 0
  while true do
    local last = redis.call('LINDEX', key, -1)
    if not last or tonumber(cjson.decode(last).at_us) >= before then return n end
    redis.call('RPOP', key)
    n = n + 1
  end
end
local pruned = prune_log(base .. ':log')
for _, ep in ipairs(redis.call('SMEMBERS', base .. ':logs')) do
  prune_log(base .. ':log:' .. ep)
end
while true do
  local id = redis.call('LINDEX', base .. ':dead', -1)
  if not id then break end
  local created = redis.call('HGET', base .. ':m:' .. id, 'created_us')
  if created and tonumber(created) >= before then break end
  redis.call('RPOP', base .. ':dead')
  redis.call('DEL', base .. ':m:' .. id)
  pruned = pruned + 1
end
return pruned
