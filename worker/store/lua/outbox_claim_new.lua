-- KEYS[1] outbox, KEYS[2] batches, KEYS[3] leases, KEYS[4] backlog hash
-- ARGV[1] max items, ARGV[2] batch id, ARGV[3] lease deadline, ARGV[4] the batch's header line
-- (written by Python's Batch.header: the format lives in one language).
-- Pops up to ARGV[1] items from the head of the outbox into a new leased batch; the backlog's
-- "batched" field grows by as many. Returns the popped items (possibly none).
local items = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))
if not items then return {} end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4] .. '\n' .. table.concat(items, '\n'))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'batched', #items)
return items
