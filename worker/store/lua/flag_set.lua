-- Set a coalescing flag (a flush armed, a doorbell rung) unless it is set.
-- KEYS[1] the flag, ARGV[1] its TTL in ms. Returns 1 when this call set it, else 0.
-- Allowed under OOM (a few bytes): a full Redis must still be able to schedule the work
-- that drains it.
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
