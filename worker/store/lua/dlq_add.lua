-- Append dead-letter entries, keep per-(destination, category, reason) counts, and trim the
-- oldest entries beyond the bound, exactly, so the counts never drift.
-- KEYS[1] the dead-letter stream, KEYS[2] the counts hash
-- ARGV[1] the bound (entries), then pairs (entry JSON, count field "dest|category|reason")
-- Returns the new entries' ids. The count field is stored in the entry too ("k"), so
-- trimming and deleting know what to subtract without decoding the JSON.
local ids = {}
for i = 2, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'd', ARGV[i], 'k', ARGV[i + 1])
  redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
end
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if excess > 0 then
  for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)) do
    local fields = entry[2]
    for j = 1, #fields, 2 do
      if fields[j] == 'k' then
        if redis.call('HINCRBY', KEYS[2], fields[j + 1], -1) <= 0 then
          redis.call('HDEL', KEYS[2], fields[j + 1])
        end
      end
    end
    redis.call('XDEL', KEYS[1], entry[1])
  end
end
return ids
