-- Release a token lock if the caller still holds it (as redis-py's Lock release script).
-- KEYS[1]: the lock; ARGV[1]: the token the caller set. Returns 1 if released, 0 if lost.
local token = redis.call('GET', KEYS[1])
if not token or token ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
