-- KEYS[1] batches, KEYS[2] leases, KEYS[3] retry, KEYS[4] recoveries, KEYS[5] backlog hash,
-- KEYS[6] the batch's item list (a batch claimed from the outbox keeps its items there)
-- ARGV[1] batch id, ARGV[2] its items as stored (the caller's Batch.stored).
-- Forgets a finished batch wherever it is; the backlog's "batched" field loses its items.
-- Returns 1 if it existed (only then is the backlog changed: a second forget is a no-op).
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[6])
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[5], 'batched', -tonumber(ARGV[2]))
return 1
