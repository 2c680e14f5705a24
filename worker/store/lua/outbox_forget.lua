-- KEYS[1] batches, KEYS[2] leases, KEYS[3] retry, KEYS[4] recoveries
-- ARGV[1] batch id. Forgets a finished batch wherever it is. Returns 1 if it existed.
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
