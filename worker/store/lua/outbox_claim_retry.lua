-- KEYS[1] retry, KEYS[2] leases, KEYS[3] batches
-- ARGV[1] batch id, ARGV[2] lease deadline
-- Moves one scheduled batch into a lease if nobody else took it. Returns its JSON or false.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return false end
local batch = redis.call('HGET', KEYS[3], ARGV[1])
if not batch then return false end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return batch
