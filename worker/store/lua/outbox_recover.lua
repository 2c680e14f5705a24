-- KEYS[1] leases, KEYS[2] retry, KEYS[3] recoveries; ARGV[1] now.
-- Expired leases become due retries; each batch's recoveries are counted (crash-loop breaker).
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], ARGV[1], id)
  redis.call('HINCRBY', KEYS[3], id, 1)
end
return #expired
