-- Atomic near-duplicate check and insert. Runs as one script, so two workers that ingest
-- copies of the same article at the same moment are serialised: the first inserts, the
-- second finds it.
--
-- KEYS[1] outcome key of this input      KEYS[2] exact-text key
-- KEYS[3] canonical-URL key ('' if none) KEYS[4] this input's signature key
-- KEYS[5..] one LSH bucket key per band
-- ARGV: doc_id, packed signature (4-byte size + uint16 values), ttl seconds,
--       jaccard threshold, containment threshold, min length ratio, signature key prefix,
--       max candidates
-- Returns {status, canonical_id, method, similarity}: status 'new' or 'dup'.

local doc_id, sig, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local jt, ct, min_ratio = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local sig_prefix, max_cand = ARGV[7], tonumber(ARGV[8])

-- a redelivered task gets the decision already taken for it
local prior = redis.call('GET', KEYS[1])
if prior then
  local status, canon, method, sim = string.match(prior, '^(%a+)|([^|]*)|([^|]*)|(.*)$')
  return {status, canon, method, sim}
end

local function decide(status, canon, method, sim)
  redis.call('SET', KEYS[1], status .. '|' .. canon .. '|' .. method .. '|' .. sim, 'EX', ttl)
  return {status, canon, method, sim}
end

local function size_of(s)
  local b1, b2, b3, b4 = string.byte(s, 1, 4)
  return ((b1 * 256 + b2) * 256 + b3) * 256 + b4
end

local exact = redis.call('GET', KEYS[2])
if exact and exact ~= doc_id and redis.call('EXISTS', sig_prefix .. exact) == 1 then
  return decide('dup', exact, 'exact', '1.0')
end
if KEYS[3] ~= '' then
  local by_url = redis.call('GET', KEYS[3])
  if by_url and by_url ~= doc_id and redis.call('EXISTS', sig_prefix .. by_url) == 1 then
    return decide('dup', by_url, 'url', '1.0')
  end
end

local my_size = size_of(sig)
local n = (string.len(sig) - 4) / 2
local seen, best_id, best_sim = {}, nil, -1
local checked = 0
for i = 5, #KEYS do
  local members = redis.call('SMEMBERS', KEYS[i])
  for _, cand in ipairs(members) do
    if cand ~= doc_id and not seen[cand] and checked < max_cand then
      seen[cand] = true
      checked = checked + 1
      local other = redis.call('GET', sig_prefix .. cand)
      if other then
        local same = 0
        for k = 5, string.len(sig), 2 do
          if string.byte(sig, k) == string.byte(other, k) and string.byte(sig, k + 1) == string.byte(other, k + 1) then
            same = same + 1
          end
        end
        local j = same / n
        local other_size = size_of(other)
        local small, large = math.min(my_size, other_size), math.max(my_size, other_size)
        local inter = j * (my_size + other_size) / (1 + j)
        local c = math.min(1, inter / math.max(1, small))
        local sim = -1
        if j >= jt then sim = j end
        if small / math.max(1, large) >= min_ratio and c >= ct and c > sim then sim = c end
        if sim > best_sim then best_id, best_sim = cand, sim end
      end
    end
  end
end
if best_id then
  return decide('dup', best_id, 'near', string.format('%.4f', best_sim))
end

-- new canonical article: index it
redis.call('SET', KEYS[4], sig, 'EX', ttl)
redis.call('SET', KEYS[2], doc_id, 'EX', ttl)
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], doc_id, 'EX', ttl) end
for i = 5, #KEYS do
  redis.call('SADD', KEYS[i], doc_id)
  redis.call('EXPIRE', KEYS[i], ttl)
end
return decide('new', doc_id, '', '0')
