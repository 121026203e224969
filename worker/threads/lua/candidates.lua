-- Candidate clusters of one level: the ids in the inverted-index sets KEYS, set by set, each
-- set's most recently active first, without repeats, at most ARGV[2] of them.
-- ARGV: ids read per set, most ids returned.
-- One command instead of one per set, and only the ids the caller reads come back.
local per_set, most = tonumber(ARGV[1]), tonumber(ARGV[2])
local seen, out = {}, {}
if most <= 0 then
  return out
end
for i = 1, #KEYS do
  for _, cid in ipairs(redis.call('ZREVRANGE', KEYS[i], 0, per_set - 1)) do
    if not seen[cid] then
      seen[cid] = true
      out[#out + 1] = cid
      if #out == most then
        return out
      end
    end
  end
end
return out
