-- Delete dead-letter entries by id and subtract them from the counts.
-- KEYS[1] the dead-letter stream, KEYS[2] the counts hash; ARGV entry ids.
-- An entry written before the counts existed has no "k" field: its destination, category and
-- reason are read from its JSON (cjson) instead. Returns how many entries existed.
-- Allowed under OOM (flag added by worker.store.lua on Redis 7): it frees memory.
local removed = 0
for _, id in ipairs(ARGV) do
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if #found == 1 then
    local fields, k, d = found[1][2], nil, nil
    for j = 1, #fields, 2 do
      if fields[j] == 'k' then k = fields[j + 1] elseif fields[j] == 'd' then d = fields[j + 1] end
    end
    if not k and d then
      local ok, entry = pcall(cjson.decode, d)
      if ok and type(entry) == 'table' then
        k = tostring(entry.destination) .. '|' .. tostring(entry.category) .. '|' ..
          tostring(entry.reason)
      end
    end
    if k and redis.call('HINCRBY', KEYS[2], k, -1) <= 0 then redis.call('HDEL', KEYS[2], k) end
    removed = removed + redis.call('XDEL', KEYS[1], id)
  end
end
return removed
