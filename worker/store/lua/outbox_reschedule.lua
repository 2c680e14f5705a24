-- KEYS[1] batches, KEYS[2] leases, KEYS[3] retry, KEYS[4] recoveries, KEYS[5] backlog hash,
-- KEYS[6] the old batch's item list (deleted with it: new batches hold their items inline)
-- ARGV[1] old batch id (or ''), ARGV[2] its items as stored, then quads (new id, new batch
-- bytes, due, its items).
-- Replaces a batch by zero or more scheduled batches (retry, bisection). Does nothing and
-- returns 0 when the old batch no longer exists (someone else finished it). The backlog's
-- "batched" field follows: minus the old batch's items, plus the new ones'.
local delta = 0
if ARGV[1] ~= '' then
  if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
  delta = -tonumber(ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('DEL', KEYS[6])
end
for i = 3, #ARGV, 4 do
  delta = delta + tonumber(ARGV[i + 3])
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[3], ARGV[i + 2], ARGV[i])
end
if delta ~= 0 then redis.call('HINCRBY', KEYS[5], 'batched', delta) end
return 1
