-- Adaptive token bucket, refilled from Redis's own clock. See worker/ratelimit.py.
--
-- KEYS[1]  the bucket hash, e.g. mtt:{brand-a}:bucket
--          fields: tokens (float), ts (µs of the last update), factor (0 < f <= 1),
--                  pen (µs of the last penalty)
-- ARGV[1]  op: "take" | "penalize" | "state" | "restamp"
-- ARGV[2]  rate: base tokens per second (> 0)
-- ARGV[3]  burst: capacity, tokens (>= 1)
-- ARGV[4]  n: tokens wanted by "take" (1 <= n <= burst); ignored otherwise
-- ARGV[5]  ttl_ms: PEXPIRE after every write, so idle buckets vanish
-- ARGV[6]  penalty: factor multiplier on "penalize" (e.g. 0.5)
-- ARGV[7]  min_factor: floor of the factor (e.g. 0.05)
-- ARGV[8]  recovery: factor regained per second (e.g. 0.1 = +10% of rate per second)
-- ARGV[9]  window_us: a penalty within this long of the previous one empties the bucket
--          but does not cut the factor again (one burst of 40100s = one cut)
-- ARGV[10] now_us: "" = redis.call('TIME'); an integer = simulated clock (tests only)
-- ARGV[11] window_us: the sliding window of grants (absent, "" or 0 = none). With a window,
--          the hash also keeps `log`, the grants of the last window_us ("<µs>:<n>," oldest
--          first), and "take" grants only if the grants inside (now - window_us, now] plus n
--          stay <= burst: whatever the grant sizes, takers and clock steps, no window of
--          window_us holds more than burst tokens granted (worker/store/ratelimit.py says why
--          a bucket alone cannot promise that). A grant is logged at now rounded *up* to the
--          millisecond, merged with one logged in the same millisecond: at most ~1,000
--          entries per second of window, whatever the grant sizes (typically 2-3: full
--          requests), each counted at most 1 ms longer than exact. Entries from a clock that
--          went backwards are counted as granted now (never fewer than time allows).
-- ARGV[12] "restamp" only: the stamp a "take" returned. The request of that grant is being
--          sent now: its n move from that entry to now (rounded up), so the window counts
--          it from when it leaves, not from when it was granted; a request delayed between
--          its grant and its send (a claim, a busy CPU) cannot then arrive closer to the
--          next one than the window allows. Stamps only move later: never more granted.
--
-- Returns {granted, wait_s, tokens, factor} (numbers as strings: Lua numbers would be
-- truncated to integers on the way out). "take" grants n or 0; wait_s is the time until
-- n tokens are there at the current effective rate and the window has room for n (0 when
-- granted); tokens is what could be granted now (bucket and window). A granted "take" with
-- a window returns a fifth value, the grant's stamp in the log (for "restamp"). "penalize" returns
-- granted = 0, wait_s = time to refill n tokens. "state" writes nothing.

if redis.replicate_commands then pcall(redis.replicate_commands) end

local key = KEYS[1]
local op = ARGV[1]
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local ttl_ms = tonumber(ARGV[5])
local penalty = tonumber(ARGV[6])
local min_factor = tonumber(ARGV[7])
local recovery = tonumber(ARGV[8])
local window_us = tonumber(ARGV[9])
local slide_us = tonumber(ARGV[11] or '') or 0

local now
if ARGV[10] ~= nil and ARGV[10] ~= '' then
    now = tonumber(ARGV[10])
else
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local fields = redis.call('HMGET', key, 'tokens', 'ts', 'factor', 'pen', 'log')
local tokens = tonumber(fields[1]) or burst
local ts = tonumber(fields[2]) or now
local factor = tonumber(fields[3]) or 1
local pen = tonumber(fields[4]) or 0
if tokens > burst then tokens = burst end  -- burst was lowered by a config change

-- A clock that went backwards (failover to a replica with another clock) refills nothing
-- and restarts the accounting from now: never more tokens than time allows.
local dt = (now - ts) / 1000000
if dt < 0 then dt = 0 end

-- The factor climbs linearly from `factor` at `recovery` per second up to 1. Tokens accrue
-- at rate * factor(t): integrate exactly, so the result does not depend on how often the
-- script runs (two calls over dt give what one call does).
local integral = dt
if factor < 1 then
    local t_full = (1 - factor) / recovery
    if dt <= t_full then
        integral = factor * dt + recovery * dt * dt / 2
        factor = factor + recovery * dt
    else
        integral = factor * t_full + recovery * t_full * t_full / 2 + (dt - t_full)
        factor = 1
    end
end
tokens = math.min(burst, tokens + rate * integral)

-- The sliding window: grants still inside (now - slide_us, now], oldest first.
local QUANTUM = 1000  -- µs
local stamp = math.ceil(now / QUANTUM) * QUANTUM
local log_t, log_n, used = {}, {}, 0
if slide_us > 0 and fields[5] then
    for t, m in string.gmatch(fields[5], '(%d+):(%d+),') do
        t, m = tonumber(t), tonumber(m)
        if t > stamp then t = stamp end  -- clock went backwards: count it as granted now
        if t > now - slide_us then
            log_t[#log_t + 1], log_n[#log_n + 1], used = t, m, used + m
        end
    end
end

local function fmt(x) return string.format('%.17g', x) end

local function save()
    local entries = {}
    for i = 1, #log_t do entries[i] = string.format('%.0f:%d,', log_t[i], log_n[i]) end
    redis.call('HSET', key, 'tokens', fmt(tokens), 'ts', fmt(now), 'factor', fmt(factor),
        'pen', fmt(pen), 'log', table.concat(entries))
    redis.call('PEXPIRE', key, ttl_ms)
end

-- until the window has room for `want`: the oldest grants leave it first
local function window_wait(want)
    if slide_us <= 0 or used + want <= burst then return 0 end
    local left = used
    for i = 1, #log_t do
        left = left - log_n[i]
        if left + want <= burst then return (log_t[i] + slide_us - now) / 1000000 end
    end
    return slide_us / 1000000
end

local function wait_for(want)
    local w = window_wait(want)
    if tokens >= want then return w end
    return math.max(w, (want - tokens) / (rate * factor))
end

-- what could be granted now: the bucket's tokens, within the window's room
local function available()
    if slide_us <= 0 then return tokens end
    return math.max(0, math.min(tokens, burst - used))
end

if op == 'state' then
    return {'0', fmt(wait_for(n)), fmt(available()), fmt(factor)}
end

if op == 'restamp' then
    if slide_us > 0 then
        local old = tonumber(ARGV[12] or '') or 0
        for i = 1, #log_t do
            if log_t[i] == old then
                log_n[i] = log_n[i] - math.min(n, log_n[i])
                break
            end
        end
        local kept_t, kept_n = {}, {}
        for i = 1, #log_t do
            if log_n[i] > 0 then kept_t[#kept_t + 1], kept_n[#kept_n + 1] = log_t[i], log_n[i] end
        end
        log_t, log_n = kept_t, kept_n
        local last = #log_t
        if last > 0 and log_t[last] >= stamp then
            log_n[last] = log_n[last] + n
        else
            log_t[last + 1], log_n[last + 1] = stamp, n
        end
        used = 0
        for i = 1, #log_n do used = used + log_n[i] end
        save()
    end
    return {'0', '0', fmt(available()), fmt(factor)}
end

if op == 'penalize' then
    if pen == 0 or now - pen >= window_us then
        factor = math.max(min_factor, factor * penalty)
    end
    pen = now
    tokens = 0
    save()
    return {'0', fmt(wait_for(n)), fmt(available()), fmt(factor)}
end

-- take: all or nothing
local granted = 0
if tokens >= n and (slide_us <= 0 or used + n <= burst) then
    tokens = tokens - n
    granted = n
    if slide_us > 0 then
        local last = #log_t
        if last > 0 and log_t[last] == stamp then
            log_n[last] = log_n[last] + n
        else
            log_t[last + 1], log_n[last + 1] = stamp, n
        end
        used = used + n
    end
end
save()
local wait = 0
if granted == 0 then wait = wait_for(n) end
if granted > 0 and slide_us > 0 then
    return {tostring(granted), fmt(wait), fmt(available()), fmt(factor), fmt(stamp)}
end
return {tostring(granted), fmt(wait), fmt(available()), fmt(factor)}
