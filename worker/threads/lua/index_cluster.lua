-- Index one cluster under its strongest features, and drop it from the features it lost.
-- KEYS[1..n]: inverted-index sorted sets to add to, then KEYS[n+1..]: sets to remove from.
-- ARGV: cluster id, score (last activity, unix seconds), n, keep (members kept per set,
-- most recent), ttl (seconds).
-- One script instead of 3 commands per feature: an assign touches 2 x 15 features.
local cid, score, n, keep, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 1, n do
  redis.call('ZADD', KEYS[i], score, cid)
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(keep + 1))
  redis.call('EXPIRE', KEYS[i], ttl)
end
for i = n + 1, #KEYS do
  redis.call('ZREM', KEYS[i], cid)
end
return n
