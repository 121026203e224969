-- Take a fetch slot on one host, for every worker at once (Redis is the one clock).
-- KEYS[1] sorted set of leases (member: token, score: lease expiry in ms)
-- KEYS[2] earliest start time of the next fetch on this host, in ms
-- ARGV[1] token  ARGV[2] concurrency  ARGV[3] delay between starts (ms)  ARGV[4] lease (ms)
-- Returns 0 when the slot is taken, else how many ms to wait before trying again.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- leases of workers that died holding them expire here
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local next_start = tonumber(redis.call('GET', KEYS[2]) or '0')
if next_start > now then
  return next_start - now
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(50, math.min(1000, tonumber(first[2]) - now))
end
local lease = tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
local delay = tonumber(ARGV[3])
if delay > 0 then
  redis.call('SET', KEYS[2], now + delay, 'PX', delay)
end
return 0
