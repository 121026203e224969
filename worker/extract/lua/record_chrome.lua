-- Count one page's distinct lines for its site, once per input (see worker/extract/chrome.py).
-- KEYS[1] sorted set fingerprint -> score, KEYS[2] page counter, KEYS[3] "this input was counted"
-- ARGV[1] recency fraction in [0, 1), ARGV[2] lines kept per site, ARGV[3] TTL in seconds,
-- ARGV[4..] fingerprints
-- A score is pages-seen-on + a recency fraction: floor(score) is the count, and among lines
-- seen equally often the most recently seen rank higher, so trimming drops stale lines first
-- (not the ones whose fingerprint happens to sort first).
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[3]) == false then
  return 0
end
local frac = tonumber(ARGV[1])
for i = 4, #ARGV do
  local old = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[i]) or '0')
  redis.call('ZADD', KEYS[1], math.floor(old) + 1 + frac, ARGV[i])
end
redis.call('INCR', KEYS[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
