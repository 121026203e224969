-- The fields ARGV of each cluster hash KEYS[i], as one reply: one command instead of one per
-- cluster (redis-py spends more time on a command than Redis does on an HMGET).
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HMGET', KEYS[i], unpack(ARGV))
end
return out
