-- Add amounts to a destination's counters.
-- KEYS[1] stats hash
-- ARGV[1] destination (unused: kept so callers of every version agree), then triples
-- (field, amount, "i" integer | "f" float). Single-slot: the destination is registered by
-- worker.store.registry with its own commands (the registry's sets live on other slots).
-- Allowed under OOM (flag added by worker.store.lua on Redis 7): counting what was just
-- delivered must not fail because Redis is full, or the books would show it as lost.
for i = 2, #ARGV, 3 do
  if ARGV[i + 2] == 'f' then
    redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
  else
    redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
