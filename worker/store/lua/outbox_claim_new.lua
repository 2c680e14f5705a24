-- KEYS[1] outbox, KEYS[2] batches, KEYS[3] leases, KEYS[4] backlog hash,
-- KEYS[5] the new batch's item list (worker.store.keys.batch_items)
-- ARGV[1] max items, ARGV[2] batch id, ARGV[3] lease deadline, ARGV[4] the batch's header
-- ('@' + Batch.header: written by Python, the format lives in one language).
-- Moves up to ARGV[1] items from the head of the outbox into a new leased batch; the backlog's
-- "batched" field grows by as many. SORT ... BY nosort ... STORE copies the head of the list
-- inside Redis: the items never become Lua strings (popping 1000 items of ~800 bytes into Lua
-- and joining them cost ~6 ms of Redis CPU; this, ~0.5 ms). Returns how many items moved;
-- the caller reads them from KEYS[5] in the same round trip.
local n = redis.call('SORT', KEYS[1], 'BY', 'nosort', 'LIMIT', 0, tonumber(ARGV[1]), 'STORE', KEYS[5])
if n == 0 then return 0 end
redis.call('LTRIM', KEYS[1], n, -1)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'batched', n)
return n
