-- The optimistic commit of one assignment: check that what the decision read is unchanged,
-- then write both levels and the assignment, atomically. No lock:
-- a worker whose reads went stale gets 'conflict' and decides again on fresh reads.
-- KEYS: [1] the assignment, then per level (story, thread):
--   term-version counters (a string of 16-bit counters), cluster hash, the level's "all" sorted
--   set, its index sets (added, then dropped).
-- ARGV: [1] assignment JSON, [2] ttl, [3] index entries kept per set, then per level a header
-- of 7 values:
--   cluster id, expected version ("" for a cluster that must not exist yet), last activity
--   (index score), checked term versions, hash fields, index sets added, index sets dropped;
-- then per level its checked (counter offset, version) pairs, its (field, value) pairs, and per
-- index set added its (counter offset, trim flag) pair.
-- An index set's term version is the 16-bit counter at a hash of its name (state.py
-- ``_tv_offset``): a fixed 2 MiB a level, where a hash field per index set ever made grew
-- without bound. Sets sharing a counter only make a conflict more likely, never miss one.
-- Document frequencies are counted apart (state.py), with plain commands on the next round trip.
-- Returns {'done'}, {'recorded', assignment} or {'conflict'}.
local recorded = redis.call('GET', KEYS[1])
if recorded then
  return {'recorded', recorded}
end
local ttl, keep = tonumber(ARGV[2]), tonumber(ARGV[3])
local levels, k, a = {}, 2, 4
for l = 1, 2 do
  local h = {
    cid = ARGV[a], expected = ARGV[a + 1], score = ARGV[a + 2], n_tv = tonumber(ARGV[a + 3]),
    n_fields = tonumber(ARGV[a + 4]), n_add = tonumber(ARGV[a + 5]), n_drop = tonumber(ARGV[a + 6]),
    tv = KEYS[k], key = KEYS[k + 1], all = KEYS[k + 2], first_index = k + 3,
  }
  k = k + 3 + h.n_add + h.n_drop
  a = a + 7
  levels[l] = h
end
for l = 1, 2 do
  local h = levels[l]
  h.tv_at = a
  a = a + 2 * h.n_tv
  h.fields_at = a
  a = a + 2 * h.n_fields
  h.add_at = a
  a = a + 2 * h.n_add
end
-- checks: the cluster's version, then the versions of the terms it was looked up by
for l = 1, 2 do
  local h = levels[l]
  local v = redis.call('HGET', h.key, 'v')
  if h.expected == '' then
    if v then return {'conflict'} end
  elseif v ~= h.expected then
    return {'conflict'}
  end
  if h.n_tv > 0 then
    -- one BITFIELD_RO for all the sets' counters
    local ops = {}
    for i = 0, h.n_tv - 1 do
      ops[3 * i + 1], ops[3 * i + 2], ops[3 * i + 3] = 'GET', 'u16', ARGV[h.tv_at + 2 * i]
    end
    local now = redis.call('BITFIELD_RO', h.tv, unpack(ops))
    for i = 0, h.n_tv - 1 do
      if now[i + 1] ~= tonumber(ARGV[h.tv_at + 2 * i + 1]) then return {'conflict'} end
    end
  end
end
-- writes
for l = 1, 2 do
  local h = levels[l]
  local fields = {}
  for i = 0, 2 * h.n_fields - 1 do
    fields[i + 1] = ARGV[h.fields_at + i]
  end
  redis.call('HSET', h.key, 'v', (tonumber(h.expected) or 0) + 1, unpack(fields))
  redis.call('EXPIRE', h.key, ttl)
  local bumps = {}
  for j = 0, h.n_add - 1 do
    local i = h.first_index + j
    -- a cluster new to a set bumps the set's term version: a concurrent decision that read
    -- this set is stale (it did not see this cluster); all of a level's bumps in one BITFIELD.
    -- Only a set that grew can need trimming, and only when the worker flagged it (one growth
    -- in ``_INDEX_EVERY``, by a hash of set and cluster): a set then holds about keep + every
    -- clusters (the lookup reads its most recent few only). Its life is extended on every write
    if redis.call('ZADD', KEYS[i], h.score, h.cid) == 1 then
      local n = #bumps
      bumps[n + 1], bumps[n + 2], bumps[n + 3], bumps[n + 4] = 'INCRBY', 'u16', ARGV[h.add_at + 2 * j], 1
      if ARGV[h.add_at + 2 * j + 1] == '1' then
        redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(keep + 1))
      end
    end
    redis.call('EXPIRE', KEYS[i], ttl)
  end
  if #bumps > 0 then
    redis.call('BITFIELD', h.tv, unpack(bumps))
  end
  for i = h.first_index + h.n_add, h.first_index + h.n_add + h.n_drop - 1 do
    redis.call('ZREM', KEYS[i], h.cid)
  end
  redis.call('ZADD', h.all, h.score, h.cid)
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
return {'done'}
