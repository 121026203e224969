-- The optimistic commit of one assignment: check that what the decision read is unchanged,
-- then write both levels and the assignment, atomically. No lock:
-- a worker whose reads went stale gets 'conflict' and decides again on fresh reads.
-- KEYS: [1] the assignment, then per level (story, thread):
--   term-version hash, cluster hash, the level's "all" sorted set, its index sets (added, then
--   dropped).
-- ARGV: [1] assignment JSON, [2] ttl, [3] index entries kept per set, [4] growths of a set between
-- its trims, then per level a header
-- of 7 values:
--   cluster id, expected version ("" for a cluster that must not exist yet), last activity
--   (index score), checked term versions, hash fields, index sets added, index sets dropped;
-- then per level its checked (index set name, version) pairs, its (field, value) pairs.
-- Document frequencies are counted apart (state.py), with plain HINCRBY commands on the next
-- round trip: ~70 calls inside this script cost Redis ~2x their time as plain commands.
-- Returns {'done'}, {'recorded', assignment} or {'conflict'}.
local recorded = redis.call('GET', KEYS[1])
if recorded then
  return {'recorded', recorded}
end
local ttl, keep, every = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local levels, k, a = {}, 2, 5
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
    -- one HMGET for all the sets (12 HGET calls before)
    local names = {}
    for i = 0, h.n_tv - 1 do
      names[i + 1] = ARGV[h.tv_at + 2 * i]
    end
    local now = redis.call('HMGET', h.tv, unpack(names))
    for i = 0, h.n_tv - 1 do
      if (now[i + 1] or '0') ~= ARGV[h.tv_at + 2 * i + 1] then return {'conflict'} end
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
  for i = h.first_index, h.first_index + h.n_add - 1 do
    -- a cluster new to a set bumps the set's term version: a concurrent decision that read
    -- this set is stale (it did not see this cluster). Only a set that grew can need trimming,
    -- and only every `every`-th time it grows (its term version counts its growths): a set then
    -- holds at most keep + every - 1 clusters (the lookup reads its most recent few only).
    -- Trimming on every write was one of the 4 commands of each of the 15-30 index writes of a
    -- new cluster. Its life is extended on every write: a set emptied by ZREM is recreated with
    -- its growth count running on, so a count-based extension left such sets without a TTL
    if redis.call('ZADD', KEYS[i], h.score, h.cid) == 1 then
      if redis.call('HINCRBY', h.tv, KEYS[i], 1) % every == 0 then
        redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(keep + 1))
      end
    end
    redis.call('EXPIRE', KEYS[i], ttl)
  end
  for i = h.first_index + h.n_add, h.first_index + h.n_add + h.n_drop - 1 do
    redis.call('ZREM', KEYS[i], h.cid)
  end
  redis.call('ZADD', h.all, h.score, h.cid)
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
return {'done'}
