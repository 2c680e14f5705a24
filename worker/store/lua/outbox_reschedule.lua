-- KEYS[1] batches, KEYS[2] leases, KEYS[3] retry, KEYS[4] recoveries
-- ARGV[1] old batch id (or ''), then triples (new id, new JSON, due).
-- Replaces a batch by zero or more scheduled batches (retry, bisection). Does nothing and
-- returns 0 when the old batch no longer exists (someone else finished it).
if ARGV[1] ~= '' then
  if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[4], ARGV[1])
end
for i = 2, #ARGV, 3 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[3], ARGV[i + 2], ARGV[i])
end
return 1
