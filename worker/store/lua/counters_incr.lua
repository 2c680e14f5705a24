-- Add amounts to a destination's counters and register the destination.
-- KEYS[1] stats hash, KEYS[2] the set of destinations
-- ARGV[1] destination, then triples (field, amount, "i" integer | "f" float)
-- Allowed under OOM (flag added by worker.store.lua on Redis 7): counting what was just
-- delivered must not fail because Redis is full, or the books would show it as lost.
for i = 2, #ARGV, 3 do
  if ARGV[i + 2] == 'f' then
    redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
  else
    redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
