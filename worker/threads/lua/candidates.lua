-- Round trip 2 of an assignment (and 2b, for the thread level, only when the article starts a
-- story): one level's candidate clusters with what the decision reads, and the versions the
-- optimistic commit (commit.lua) will check.
-- KEYS: the level's inverted-index sets, then its term-version hash.
-- ARGV: [1] ids read per set, [2] most clusters, [3] key prefix of the level's cluster hashes
-- ("<prefix>:th:story:"). A term version is kept per index set, under the set's name.
-- Cluster hashes are read by names built here, not passed as KEYS: which clusters to read is
-- known only once the sets are read, and one script saves a round trip. Storyline runs on one
-- Redis (no Redis Cluster), where that is allowed.
-- Returns {ids, rows {size, when, v, dated, wd}, term versions}: no centroid, which the worker
-- keeps by version (state.py) and reads apart only when it lacks that version.
local per_set, most, base = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local n_sets = #KEYS - 1
local seen, ids, rows = {}, {}, {}
for i = 1, n_sets do
  if #ids >= most then break end
  for _, cid in ipairs(redis.call('ZREVRANGE', KEYS[i], 0, per_set - 1)) do
    if not seen[cid] then
      seen[cid] = true
      ids[#ids + 1] = cid
      rows[#rows + 1] = redis.call('HMGET', base .. cid, 'size', 'when', 'v', 'dated', 'wd')
      if #ids == most then break end
    end
  end
end
local versions = {}
if n_sets > 0 then
  versions = redis.call('HMGET', KEYS[n_sets + 1], unpack(KEYS, 1, n_sets))
end
return {ids, rows, versions}
