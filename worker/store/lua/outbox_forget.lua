-- KEYS[1] batches, KEYS[2] leases, KEYS[3] retry, KEYS[4] recoveries, KEYS[5] backlog hash
-- ARGV[1] batch id. Forgets a finished batch wherever it is. Returns 1 if it existed.
-- The backlog's "batched" field loses the batch's events (one item per line after the header).
local batch = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
if not batch then return 0 end
local _, items = string.gsub(batch, '\n', '')
redis.call('HINCRBY', KEYS[5], 'batched', -items)
return redis.call('HDEL', KEYS[1], ARGV[1])
