-- Atomic duplicate check and insert against the time-sliced index. Runs as one script, so two
-- workers that ingest copies of the same article at the same moment are serialised: the
-- first inserts, the second finds it.
--
-- Layout (names as in worker/store/keys.py; B = '<prefix>:dd', n = slice number, R = the most
-- slices live at once, window / slice + 1):
--   KEYS[1] = B:meta  hash: digest/scheme (MinHash scheme and layout), ring (buckets of
--                     B:ring), and per live slice n: z<n> slots of its first table, t<n>
--                     tables, c<n> articles
--   B:ring            string: the first table of every live slice, interleaved. Bucket j is R
--                     sub-buckets of 43 bytes, one per ring position (slice n uses position
--                     n % R): a 2-byte stamp (n % 65536), a 1-byte count of used slots, then 8
--                     slots of 5 bytes (2-byte fingerprint, 3-byte article id). A sub-bucket
--                     whose stamp is not its live slice's is empty (left by a dead slice), so a
--                     slice needs no clearing when its position comes round again, and one
--                     GETRANGE of a bucket reads an entry's slots in every live slice at once
--                     (it was one per slice when each slice had a table of its own).
--   B:n:t:<i>         string (i >= 1): overflow table i of slice n (z<n> * 2^i slots of 5
--                     bytes, 0 = empty, grouped in buckets of 8), opened when a slice gets
--                     more articles than its first table was sized for
--   B:n:r:<c>         string: fixed-size article records; article id a is record
--                     (a-1) % per_chunk of chunk (a-1) // per_chunk
-- Each LSH band of an article and its canonical URL are one slot each. Every key of slice n
-- expires at the same instant, (n+1) * slice_ms + window_ms, so a whole slice vanishes at
-- once and no key outlives the records its ids point to; the ring (and meta) expire with the
-- newest slice.
--
-- ARGV: 1 doc id, 2 record (4-byte shingle count, 8-byte text hash, 8-byte URL fingerprint,
--   num_perm x 2-byte values, 1-byte id length, id padded), 3 URL fingerprint or '',
--   4 now in ms or '' (server TIME), 5 window ms, 6 slice ms, 7 bands, 8 rows,
--   9 slots of a new slice's first table, 10 fill beyond which a slice gets a new table,
--   11 jaccard threshold, 12 containment threshold, 13 min length ratio, 14 max candidates,
--   15 records per chunk, 16 key base, 17 scheme digest, 18 scheme description, 19 num_perm
-- Returns {status, canonical_id, method, similarity}; status 'new', 'dup' or 'incompatible'.

local doc_id, rec, url_fp = ARGV[1], ARGV[2], ARGV[3]
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window, slice_ms = tonumber(ARGV[5]), tonumber(ARGV[6])
local bands, rows = tonumber(ARGV[7]), tonumber(ARGV[8])
local new_slots, max_fill = tonumber(ARGV[9]), tonumber(ARGV[10])
local jt, ct, min_ratio = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local max_cand, per_chunk = tonumber(ARGV[14]), tonumber(ARGV[15])
local base, num_perm = ARGV[16], tonumber(ARGV[19])
local meta = KEYS[1]
local rec_len = string.len(rec)
local VAL0 = 21 -- first byte of the values in a record (1-based)
local ID0 = VAL0 + 2 * num_perm -- the id-length byte
local SLOT, BUCKET = 5, 8
local WIDTH = SLOT * BUCKET
local EMPTY = string.rep('\0', SLOT)
local MAX_STEPS = 4 -- buckets probed per entry; a run of 4 full buckets means "not stored"
local HDR = 3 -- ring sub-bucket header: 2-byte stamp, 1-byte count
local SUB = HDR + WIDTH
local ring_key = base .. ':ring'

local cur = math.floor(now / slice_ms)
local oldest = math.floor((now - window) / slice_ms)
local expire_at = (cur + 1) * slice_ms + window
local R = math.ceil(window / slice_ms) + 1

-- 0. one read of the meta hash: scheme digest, then each live slice's tables
local cur_s = tostring(cur) -- number to string is a sprintf: once
local fields = {'digest', 'c' .. cur_s, 'ring'}
for s = cur, oldest, -1 do
  local name = tostring(s)
  fields[#fields + 1] = 'z' .. name
  fields[#fields + 1] = 't' .. name
end
local m = redis.call('HMGET', meta, unpack(fields))
if not m[1] then
  redis.call('HSET', meta, 'digest', ARGV[17], 'scheme', ARGV[18])
  redis.call('PEXPIREAT', meta, expire_at)
elseif m[1] ~= ARGV[17] then
  -- an upgrade must not mix signatures of another library version or permutation scheme
  return {'incompatible', m[1], '', '0'}
end

-- entry hashes: one per band (from its rows' values) and one for the URL, each with its
-- 2-byte slot fingerprint. A band is 4 bytes (rows = 2) in the common case: one string.byte.
local function u32(s, from, to)
  local h = 0
  for i = from, to do h = (h * 256 + string.byte(s, i)) % 4294967291 end
  return h
end
local entries, fps = {}, {}
local width = rows * 2
for b = 0, bands - 1 do
  local off = VAL0 + b * width
  local v
  if width == 4 then
    local b1, b2, b3, b4 = string.byte(rec, off, off + 3)
    v = (((b1 * 256 + b2) * 256 + b3) * 256 + b4) % 4294967291 -- = u32 of the 4 bytes
  else
    v = u32(rec, off, off + width - 1)
  end
  -- multiplier < 2^21 keeps the product exact in Lua's doubles
  entries[#entries + 1] = (v * 1000003 + b * 40503 + 7) % 4294967291
end
if url_fp ~= '' then
  local b1, b2, b3, b4 = string.byte(url_fp, 1, 4)
  entries[#entries + 1] = ((((b1 * 256 + b2) * 256 + b3) * 256 + b4) % 4294967291 * 1000003 + bands * 40503 + 7) % 4294967291
end
for e = 1, #entries do
  local h = entries[e]
  fps[e] = string.char(math.floor(h / 16777216) % 256, math.floor(h / 65536) % 256)
end

local cands, seen = {}, {}
local function add_cand(s, id)
  local ck = s .. ':' .. id
  if not seen[ck] and #cands < max_cand then
    seen[ck] = true
    cands[#cands + 1] = {s, id}
  end
end

-- the n used slots starting at byte at (0-based) of win: candidates with fingerprint fp
local function scan(win, at, n, fp, s)
  local stop = at + n * SLOT
  local k = string.find(win, fp, at + 1, true)
  while k and k <= stop do
    if (k - 1 - at) % SLOT == 0 then
      local i1, i2, i3 = string.byte(win, k + 2, k + 4)
      add_cand(s, (i1 * 256 + i2) * 256 + i3)
    end
    k = string.find(win, fp, k + 1, true)
  end
end

-- used slots of slice s in the ring sub-bucket at byte at of win (0 when a dead slice left it)
local function ring_count(win, at, s)
  local s1, s2, n = string.byte(win, at + 1, at + 3)
  if s1 * 256 + s2 ~= s % 65536 then return 0 end
  return n
end

-- probe an overflow table for one entry: adds each slot with the entry's fingerprint to the
-- candidates (when gathering) and, when asked (want_free), returns the byte offset of the
-- first empty slot (where the entry would go) or nil after MAX_STEPS full buckets. Slots fill
-- a bucket from its start (no deletions), so the occupied slots are a prefix and a bucket
-- whose last slot is taken is full. string.find and string.byte run in C, so it calls them a
-- few times per bucket rather than loop over bytes.
local function probe(key, slots, e, s, gather, want_free)
  local nbuckets = slots / BUCKET
  local h, fp = entries[e], fps[e]
  local first = h % nbuckets
  for step = 0, MAX_STEPS - 1 do
    local off = ((first + step) % nbuckets) * WIDTH
    local win = redis.call('GETRANGE', key, off, off + WIDTH - 1)
    if string.len(win) < WIDTH then return nil end
    if gather then
      local k = string.find(win, fp, 1, true)
      while k do
        if (k - 1) % SLOT == 0 then
          local i1, i2, i3 = string.byte(win, k + 2, k + 4)
          local id = (i1 * 256 + i2) * 256 + i3
          -- id 0 is an empty slot (a fingerprint can be 0x0000)
          if id > 0 then add_cand(s, id) end
        end
        k = string.find(win, fp, k + 1, true)
      end
    end
    local l1, l2, l3, l4, l5 = string.byte(win, WIDTH - 4, WIDTH)
    if l1 + l2 + l3 + l4 + l5 == 0 then
      -- the bucket has room: the entry's chain ends here
      if not want_free then return nil end
      local z = string.find(win, EMPTY, 1, true)
      while z and (z - 1) % SLOT ~= 0 do z = string.find(win, EMPTY, z + 1, true) end
      return off + z - 1
    end
  end
  return nil
end

-- 1. gather candidates from every table of every live slice, newest first
local ring_buckets = tonumber(m[3])
local live = {} -- {slice, z, t} of every live slice that holds articles
for si = 0, cur - oldest do
  local z, t = tonumber(m[4 + 2 * si]), tonumber(m[5 + 2 * si])
  if z then live[#live + 1] = {cur - si, z, t} end
end
-- where each entry would go in the current slice's newest table: for the ring {bucket, used
-- slots, the bytes read, where its sub-bucket starts in them}, for an overflow table the byte
-- offset; false when 4 buckets were full
local free = {}
-- each live slice's ring position, and whether it is the current slice's newest table
local live_p, live_want = {}, {}
for i, l in ipairs(live) do
  live_p[i], live_want[i] = l[1] % R, l[1] == cur and l[3] == 1
end
local n_at, slice_at = {}, {} -- per ring position, for the bucket at hand (reused)
if ring_buckets and #live > 0 then
  for e = 1, #entries do
    local fp = fps[e]
    local j = entries[e] % ring_buckets
    local win = redis.call('GETRANGE', ring_key, j * R * SUB, (j + 1) * R * SUB - 1)
    if string.len(win) == R * SUB then
      for i = 1, R do n_at[i - 1] = nil end
      for i = 1, #live do
        local p = live_p[i]
        local at = p * SUB
        local n = ring_count(win, at, live[i][1])
        n_at[p], slice_at[p] = n, live[i][1]
        if live_want[i] and n < BUCKET then free[e] = {j, n, win, at} end
        if n == BUCKET then
          -- a full sub-bucket: this slice's chain goes on in the next buckets (rare at the
          -- load the ring is sized for)
          local s = live[i][1]
          local step = 1
          while n == BUCKET and step < MAX_STEPS do
            local jb = (j + step) % ring_buckets
            local at2 = (jb * R + p) * SUB
            local sub = redis.call('GETRANGE', ring_key, at2, at2 + SUB - 1)
            n = string.len(sub) == SUB and ring_count(sub, 0, s) or 0
            if n > 0 then scan(sub, HDR, n, fp, s) end
            if live_want[i] and n < BUCKET then free[e] = {jb, n, sub, 0} end
            step = step + 1
          end
          if live_want[i] and n == BUCKET then free[e] = false end
        end
      end
      -- one search of the whole bucket for the fingerprint (it is rarely there at all)
      local k = string.find(win, fp, 1, true)
      while k do
        local p = math.floor((k - 1) / SUB)
        local rel = k - 1 - p * SUB - HDR
        local n = n_at[p]
        if n and rel >= 0 and rel % SLOT == 0 and rel < n * SLOT then
          local i1, i2, i3 = string.byte(win, k + 2, k + 4)
          add_cand(slice_at[p], (i1 * 256 + i2) * 256 + i3)
        end
        k = string.find(win, fp, k + 1, true)
      end
    end
  end
end
for _, l in ipairs(live) do
  local s, z, t = l[1], l[2], l[3]
  for i = 1, t - 1 do
    local key = base .. ':' .. s .. ':t:' .. i
    local newest = s == cur and i == t - 1
    for e = 1, #entries do
      local empty = probe(key, z * 2 ^ i, e, s, true, newest)
      if newest then free[e] = empty or false end
    end
  end
end

-- 2. verify each candidate against its stored record
local mine = #cands > 0 and {string.byte(rec, VAL0, ID0 - 1)} or {}
local function size_of(s)
  local b1, b2, b3, b4 = string.byte(s, 1, 4)
  return ((b1 * 256 + b2) * 256 + b3) * 256 + b4
end
local my_size, my_text = size_of(rec), string.sub(rec, 5, 12)
local exact_id, url_id, url_sim, best_id, best_sim = nil, nil, -1, nil, -1
for _, cand in ipairs(cands) do
  local pos = cand[2] - 1
  local off = (pos % per_chunk) * rec_len
  local other = redis.call('GETRANGE', base .. ':' .. cand[1] .. ':r:' .. math.floor(pos / per_chunk),
                           off, off + rec_len - 1)
  local id_len = string.len(other) == rec_len and string.byte(other, ID0) or 0
  if id_len > 0 then
    local cid = string.sub(other, ID0 + 1, ID0 + id_len)
    -- a redelivered input finds itself: it was new the first time, so it still is
    if cid == doc_id then return {'new', doc_id, '', '0'} end
    local theirs = {string.byte(other, VAL0, ID0 - 1)}
    local same = 0
    for k = 1, #mine, 2 do
      if mine[k] == theirs[k] and mine[k + 1] == theirs[k + 1] then same = same + 1 end
    end
    local j = same / num_perm
    if not exact_id and string.sub(other, 5, 12) == my_text then exact_id = cid end
    if url_fp ~= '' and string.sub(other, 13, 20) == url_fp and j > url_sim then url_id, url_sim = cid, j end
    local other_size = size_of(other)
    local small, large = math.min(my_size, other_size), math.max(my_size, other_size)
    -- containment of the smaller shingle set in the larger, from the Jaccard estimate:
    -- |A n B| = J (|A| + |B|) / (1 + J)
    local c = math.min(1, j * (my_size + other_size) / (1 + j) / math.max(1, small))
    local sim = -1
    if j >= jt then sim = j end
    if small / math.max(1, large) >= min_ratio and c >= ct and c > sim then sim = c end
    if sim > best_sim then best_id, best_sim = cid, sim end
  end
end
if exact_id then return {'dup', exact_id, 'exact', '1.0'} end
if url_id then return {'dup', url_id, 'url', string.format('%.4f', url_sim)} end
if best_id and best_sim >= 0 then return {'dup', best_id, 'near', string.format('%.4f', best_sim)} end

-- 3. a new canonical article: index it in the current slice
local function create(key, bytes)
  if bytes <= 8388608 then
    redis.call('SET', key, string.rep('\0', bytes), 'PXAT', expire_at)
  else
    -- a big table grows once to its size (sds adds at most 1 MB of slack above 1 MB)
    redis.call('SETRANGE', key, bytes - 1, '\0')
    redis.call('PEXPIREAT', key, expire_at)
  end
end
local z, t = tonumber(m[4]), tonumber(m[5])
local count = redis.call('HINCRBY', meta, 'c' .. cur_s, 1)
if count > 16777215 then return redis.error_reply('dedup slice full (3-byte article ids)') end
if not z then
  -- a new slice: its first table is its position in the ring, made with the first slice
  if not ring_buckets or redis.call('EXISTS', ring_key) == 0 then
    ring_buckets = ring_buckets or new_slots / BUCKET
    create(ring_key, ring_buckets * R * SUB)
    redis.call('HSET', meta, 'ring', ring_buckets)
  end
  z, t = ring_buckets * BUCKET, 1
  redis.call('HSET', meta, 'z' .. cur, z, 't' .. cur, t)
  -- the meta hash and the ring live as long as the newest slice; fields of dead slices go
  redis.call('PEXPIREAT', meta, expire_at)
  redis.call('PEXPIREAT', ring_key, expire_at)
  for _, f in ipairs(redis.call('HKEYS', meta)) do
    local s = tonumber(string.sub(f, 2))
    if s and s < oldest and string.find('zct', string.sub(f, 1, 1), 1, true) then redis.call('HDEL', meta, f) end
  end
  free = {}
elseif count * #entries > max_fill * z * (2 ^ t - 1) then
  -- the newest table is full enough: open an overflow table twice its size (lookups now
  -- read both)
  t = t + 1
  redis.call('HSET', meta, 't' .. cur, t)
  create(base .. ':' .. cur .. ':t:' .. (t - 1), z * 2 ^ (t - 1) * SLOT)
  free = {}
end
local pos = count - 1
local rkey = base .. ':' .. cur_s .. ':r:' .. math.floor(pos / per_chunk)
if pos % per_chunk == 0 then create(rkey, per_chunk * rec_len) end
redis.call('SETRANGE', rkey, (pos % per_chunk) * rec_len, rec)
local id3 = string.char(math.floor(count / 65536) % 256, math.floor(count / 256) % 256, count % 256)
local pc = cur % R
local stamp = string.char(math.floor(cur / 256) % 256, cur % 256)

-- where entry e goes in the current slice's ring sub-buckets, read afresh: {bucket, used
-- slots, the bytes read, where the sub-bucket starts in them}, or nil after MAX_STEPS full ones
local function ring_free(e)
  local j = entries[e] % ring_buckets
  for step = 0, MAX_STEPS - 1 do
    local jb = (j + step) % ring_buckets
    local at = (jb * R + pc) * SUB
    local sub = redis.call('GETRANGE', ring_key, at, at + SUB - 1)
    if string.len(sub) < SUB then return nil end
    local n = ring_count(sub, 0, cur)
    if n < BUCKET then return {jb, n, sub, 0} end
  end
  return nil
end

local table_key = t > 1 and base .. ':' .. cur_s .. ':t:' .. (t - 1)
local slots = z * 2 ^ (t - 1)
local used = {}
for e = 1, #entries do
  local target = free[e]
  -- two entries of this article may have chosen the same sub-bucket or slot: look again
  -- (target false/nil: four full buckets in a row; the article is still findable by other bands)
  if t == 1 then
    if target == nil or (target and used[target[1]]) then target = ring_free(e) end
    if target then
      local jb, n, read, at = target[1], target[2], target[3], target[4]
      local bytes = string.sub(read, at + HDR + 1, at + HDR + n * SLOT)
      used[jb] = true
      -- header and slots up to the new one in one write; a sub-bucket left by a dead slice
      -- restarts at count 1 (its old slots beyond the count are never read)
      redis.call('SETRANGE', ring_key, (jb * R + pc) * SUB, stamp .. string.char(n + 1) .. bytes .. fps[e] .. id3)
    end
  else
    if target == nil or (target and used[target]) then target = probe(table_key, slots, e, cur, false, true) end
    if target then
      used[target] = true
      redis.call('SETRANGE', table_key, target, fps[e] .. id3)
    end
  end
end
return {'new', doc_id, '', '0'}
