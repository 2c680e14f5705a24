-- KEYS[1] retry (zset: batch id -> due time), KEYS[2] batches (hash: batch id -> batch)
-- ARGV[1] now: when the successful request was sent (unix seconds, the flush's clock)
-- ARGV[2] most batches to look at (the nearest due first)
--
-- A request of the destination just succeeded: the batches that wait on the retry schedule
-- only because TikTok, or the way to it, was down are made due now, so a drained outage
-- finishes at the rate limit instead of at the pace of the backoffs it was given (issue 12).
-- The token bucket still paces every request they make. Released: batches scheduled in the
-- future whose last error (the batch header's "last_error") is a timeout, a network error
-- (kind "retryable" without an HTTP status) or an HTTP 5xx / 408, and that failed before
-- ARGV[1] (the success is newer news than their failure). Left on their schedule: 40100 /
-- 429 answers (kind "rate_limited": TikTok asked us to slow down; the adaptive bucket paces
-- them), every other failure class (an unexpected TikTok code or HTTP status says nothing
-- about this success), batches without a last error. Nothing else changes: attempts,
-- first failure and last error stay as they are, so exhaustion (attempts or age), poison
-- isolation and the age rule apply as before. Auth/config pauses and split or recovered
-- batches are due now already.
--
-- A stored batch is either "@" + its header (items in their own list) or its header, a
-- newline and its items (worker/store/outbox.py, Batch.loads). Returns how many were released.
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0,
    tonumber(ARGV[2]))
local released = 0
for _, id in ipairs(ids) do
    local raw = redis.call('HGET', KEYS[2], id)
    if raw then
        local head
        if string.sub(raw, 1, 1) == '@' then
            head = string.sub(raw, 2)
        else
            local eol = string.find(raw, '\n', 1, true)
            head = eol and string.sub(raw, 1, eol - 1) or raw
        end
        local ok, meta = pcall(cjson.decode, head)
        local err = ok and type(meta) == 'table' and meta.last_error or nil
        if type(err) == 'table' and type(err.at) == 'number' and err.at < now then
            local status = type(err.http_status) == 'number' and err.http_status or nil
            local outage = err.kind == 'timeout'
                or (err.kind == 'retryable'
                    and (status == nil or status >= 500 or status == 408))
            if outage then
                redis.call('ZADD', KEYS[1], 'XX', ARGV[1], id)
                released = released + 1
            end
        end
    end
end
return released
