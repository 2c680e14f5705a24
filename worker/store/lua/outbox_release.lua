-- KEYS[1] leases, KEYS[2] retry; ARGV[1] batch id, ARGV[2] now. A lease given back early.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
