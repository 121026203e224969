-- Round trip 2 of an assignment: each level's candidate clusters with what the decision reads,
-- and the versions the optimistic commit (commit.lua) will check.
-- KEYS: the story level's inverted-index sets (ARGV[3] of them), then the thread level's; then
-- the two levels' term-version hashes (story, thread).
-- ARGV: [1] ids read per set, [2] most clusters per level, [3] story sets, [4] key prefix of a
-- cluster hash ("<prefix>:th:"). A term version is kept per index set, under the set's name.
-- Cluster hashes are read by names built here, not passed as KEYS: which clusters to read is
-- known only once the sets are read, and one script saves a round trip. Storyline runs on one
-- Redis (no Redis Cluster), where that is allowed.
-- Returns, per level: {ids, rows {size, when, v, dated, wd}: no centroid, which the
-- worker keeps by version (state.py) and reads apart only when it lacks that version, term versions}.
local per_set, most, n_story, base = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local n_sets = #KEYS - 2
local function level(first, last, name, tv_key)
  local seen, ids, rows = {}, {}, {}
  for i = first, last do
    if #ids >= most then break end
    for _, cid in ipairs(redis.call('ZREVRANGE', KEYS[i], 0, per_set - 1)) do
      if not seen[cid] then
        seen[cid] = true
        ids[#ids + 1] = cid
        rows[#rows + 1] = redis.call('HMGET', base .. name .. ':' .. cid, 'size', 'when', 'v', 'dated', 'wd')
        if #ids == most then break end
      end
    end
  end
  local terms = {}
  for i = first, last do
    terms[#terms + 1] = KEYS[i]
  end
  local versions = {}
  if #terms > 0 then
    versions = redis.call('HMGET', tv_key, unpack(terms))
  end
  return {ids, rows, versions}
end
return {level(1, n_story, 'story', KEYS[n_sets + 1]), level(n_story + 1, n_sets, 'thread', KEYS[n_sets + 2])}
