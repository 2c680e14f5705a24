-- Append one chunk of raw events to a destination's intake stream (the producer's side).
-- KEYS[1] intake stream, KEYS[2] backlog hash (field "intake": events appended, not ingested)
-- ARGV[1] the chunk (JSON array of raw Masivo events, as bytes), ARGV[2] its number of events,
-- ARGV[3] the consumer group, created with a new stream (from its first entry), so that
-- workers never need XGROUP CREATE, which Redis refuses at maxmemory.
-- Returns the new entry's id. XADD and the backlog count are one step, so the backlog the
-- producer's bound reads never disagrees with the stream. The entry's "c" field records the
-- count the commit script subtracts again (entries appended by other tools carry none).
local fresh = redis.call('EXISTS', KEYS[1]) == 0
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[1], 'n', ARGV[2], 'c', ARGV[2])
if fresh then redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[3], '0') end
redis.call('HINCRBY', KEYS[2], 'intake', tonumber(ARGV[2]))
return id
