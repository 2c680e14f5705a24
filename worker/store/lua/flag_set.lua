-- Set a coalescing flag (a flush armed, a doorbell rung) unless it is set.
-- KEYS[1] the flag, ARGV[1] its TTL in ms; optional ARGV[2] when the work it schedules is due
-- (unix ms, stored as the flag's value; else "1") and ARGV[3] "sooner": then a flag set for
-- *later* (or unknown) work is replaced, so an earlier flush is scheduled too -- a retry due
-- in 1 s must not wait for a flush armed 25 s out (the later one still runs, harmlessly).
-- Returns 1 when this call set it, else 0.
-- Allowed under OOM (a few bytes): a full Redis must still be able to schedule the work
-- that drains it.
local value = ARGV[2] or ''
if value == '' then value = '1' end
if ARGV[3] == 'sooner' then
    local current = tonumber(redis.call('GET', KEYS[1]) or '')
    if current ~= nil and current > 1 and tonumber(value) >= current then return 0 end
    redis.call('SET', KEYS[1], value, 'PX', ARGV[1])
    return 1
end
if redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[1]) then return 1 end
return 0
