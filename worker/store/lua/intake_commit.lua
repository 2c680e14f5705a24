-- Finish one intake entry: its events move on, and the entry leaves the stream, in one step.
-- KEYS[1] intake stream, KEYS[2] outbox list, KEYS[3] stats hash, KEYS[4] backlog hash,
-- KEYS[5] quality hash (worker.store.quality: match keys and warnings per event name)
-- ARGV[1] entry id, ARGV[2] consumer group, ARGV[3] events the entry counted in the backlog,
-- ARGV[4] number of outbox items (k), ARGV[5..4+k] the items (worker.store.outbox.Item bytes),
-- ARGV[5+k] number of stats pairs (s), then s pairs (counter field, integer amount) to
-- HINCRBY in the stats hash, then pairs (field, integer amount) to HINCRBY in the quality hash.
-- Returns the outbox length after the append, or -1 when the entry was no longer pending:
-- another worker, which took it over after its lease ran out, committed it first. Then
-- nothing is written, so a slow worker and its successor never both count or queue a chunk.
-- Allowed under OOM (flag added by worker.store.lua when the server knows flags): it frees
-- the entry it moves, and a full Redis must still be able to drain.
if redis.call('XACK', KEYS[1], ARGV[2], ARGV[1]) == 0 then return -1 end
redis.call('XDEL', KEYS[1], ARGV[1])
local counted = tonumber(ARGV[3])
if counted > 0 then redis.call('HINCRBY', KEYS[4], 'intake', -counted) end
local k = tonumber(ARGV[4])
local depth = redis.call('LLEN', KEYS[2])
for first = 5, 4 + k, 1000 do  -- unpack() has a stack limit: push in slices
  depth = redis.call('RPUSH', KEYS[2], unpack(ARGV, first, math.min(first + 999, 4 + k)))
end
local q = 6 + k + 2 * tonumber(ARGV[5 + k])
for i = 6 + k, q - 1, 2 do
  redis.call('HINCRBY', KEYS[3], ARGV[i], tonumber(ARGV[i + 1]))
end
for i = q, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[5], ARGV[i], tonumber(ARGV[i + 1]))
end
return depth
