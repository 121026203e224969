-- Round trip 1 of an assignment: the article's recorded assignment (a redelivery) and the
-- document frequencies of its features.
-- KEYS[1]: the assignment; KEYS[2]: hash feature -> documents; KEYS[3]: documents seen.
-- ARGV: the article's distinct features.
-- Returns {assignment or false, documents seen or false, frequency or false per feature}.
local out = {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[3])}
if #ARGV > 0 then
  local dfs = redis.call('HMGET', KEYS[2], unpack(ARGV))
  for i = 1, #dfs do
    out[i + 2] = dfs[i]
  end
end
return out
