-- Atomic duplicate check and insert against the time-sliced index. Runs as one script, so two
-- workers that ingest copies of the same article at the same moment are serialised: the
-- first inserts, the second finds it.
--
-- Redis runs every script of every worker one at a time, so the script does as little as it
-- can: the entry hashes come computed from the worker, and the settings are constants of this
-- script's text (index.py writes them into the header above this comment).
--
-- Layout (names as in worker/store/keys.py; B = '<prefix>:dd', n = slice number, R = the most
-- slices live at once, window / slice + 1):
--   KEYS[1] = B:meta  hash: digest/scheme (MinHash scheme and layout), ring (buckets of
--                     B:ring), and per live slice n: t<n> tables, c<n> articles
--   B:ring            string: the first table of every live slice, interleaved. Bucket j is a
--                     2-byte overflow stamp, then R sub-buckets of 43 bytes, one per ring
--                     position (slice n uses position n % R): a 2-byte stamp (n % 65536), a
--                     1-byte count of used slots, then 8 slots of 5 bytes (2-byte fingerprint,
--                     3-byte article id). A sub-bucket whose stamp is not its live slice's is
--                     empty (left by a dead slice), so a slice needs no clearing when its
--                     position comes round again, and one GETRANGE of a bucket reads an entry's
--                     slots in every live slice at once. An entry whose sub-bucket is full goes
--                     on to the next buckets (up to MAX_STEPS) and stamps its home bucket's
--                     overflow stamp with its slice: a lookup follows chains only when that
--                     stamp names a live slice (the newest slice to overflow from the bucket),
--                     which is rare, so it is one read per entry.
--   B:n:t:<i>         string (i >= 1): overflow table i of slice n (Z * 2^i slots of 5 bytes,
--                     Z = ring * 8, 0 = empty, grouped in buckets of 8), opened when a slice
--                     gets more articles than its part of the ring was sized for
--   B:n:r:<c>         string: fixed-size article records; article id a is record
--                     (a-1) % per_chunk of chunk (a-1) // per_chunk
-- Each LSH key of an article and its canonical URL are one slot each. Every key of slice n
-- expires at the same instant, (n+1) * slice_ms + window_ms, so a whole slice vanishes at
-- once and no key outlives the records its ids point to; the ring (and meta) expire with the
-- newest slice.
--
-- ARGV: 1 doc id, 2 record (4-byte shingle count, 8-byte text hash, 8-byte URL fingerprint,
--   num_perm x 2-byte values, 1-byte id length, id padded), 3 URL fingerprint or '',
--   4 now in ms or '' (server TIME), 5 entry hashes (4 bytes each, big-endian: one per LSH key,
--   the full signature's bands then the lead's keys, then the URL's; the first 2 bytes of each
--   are its slot fingerprint), 6 key base. The script does not tell the keys apart: each is one
--   slot, and every candidate is verified against its record (worker/dedup/decision.py is the
--   rule, in Python, that the verification below implements).
-- Returns {status, canonical_id, method, similarity}; status 'new', 'dup' or 'incompatible'.

local doc_id, rec, url_fp, hashes, base = ARGV[1], ARGV[2], ARGV[3], ARGV[5], ARGV[6]
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local meta = KEYS[1]
local byte, find, sub, fmt = string.byte, string.find, string.sub, string.format
local rec_len = string.len(rec)
local VAL0 = 21 -- first byte of the values in a record (1-based)
local ID0 = VAL0 + 2 * NUM_PERM -- the id-length byte
local SLOT, BUCKET = 5, 8
local WIDTH = SLOT * BUCKET
local EMPTY = string.rep('\0', SLOT)
local MAX_STEPS = 4 -- buckets probed per entry; a run of 4 full buckets means "not stored"
local HDR = 3 -- ring sub-bucket header: 2-byte stamp, 1-byte count
local SUB = HDR + WIDTH
local R = math.ceil(WINDOW / SLICE_MS) + 1
local BB = 2 + R * SUB -- a ring bucket: overflow stamp, R sub-buckets
local ring_key = base .. ':ring'

local cur = math.floor(now / SLICE_MS)
local oldest = math.floor((now - WINDOW) / SLICE_MS)
local expire_at = (cur + 1) * SLICE_MS + WINDOW

-- 0. one read of the meta hash: scheme digest, the ring's size, then each live slice's table
-- count (the current slice's first)
-- Numbers reach Redis as strings: a number argument or a number in a concatenation is printed
-- with '%.14g', which glibc does in multiple precision (~12% of Redis's time during checks
-- under perf, before). Every integer is therefore printed with fmt('%d'), which is cheap.
local cur_s = fmt('%d', cur)
local fields = {'digest', 'ring', 't' .. cur_s}
for s = cur - 1, oldest, -1 do fields[#fields + 1] = fmt('t%d', s) end
local m = redis.call('HMGET', meta, unpack(fields))
if not m[1] then
  redis.call('HSET', meta, 'digest', DIGEST, 'scheme', SCHEME)
  redis.call('PEXPIREAT', meta, fmt('%d', expire_at))
elseif m[1] ~= DIGEST then
  -- an upgrade must not mix signatures of another library version or permutation scheme
  return {'incompatible', m[1], '', '0'}
end

-- the entries: hash (for the bucket) and 2-byte fingerprint (for the slot)
local n_entries = string.len(hashes) / 4
local entries, fps = {}, {}
do
  local hb = {byte(hashes, 1, -1)}
  for e = 1, n_entries do
    local i = 4 * e - 3
    entries[e] = ((hb[i] * 256 + hb[i + 1]) * 256 + hb[i + 2]) * 256 + hb[i + 3]
    fps[e] = sub(hashes, i, i + 1)
  end
end

local cands, seen = {}, {}
local function add_cand(s, id)
  local ck = s * 16777216 + id -- ids are 3 bytes
  if not seen[ck] and #cands < MAX_CAND then
    seen[ck] = true
    cands[#cands + 1] = {s, id}
  end
end

-- the n used slots starting at byte at (0-based) of win: candidates with fingerprint fp
local function scan(win, at, n, fp, s)
  local stop = at + n * SLOT
  local k = find(win, fp, at + 1, true)
  while k and k <= stop do
    if (k - 1 - at) % SLOT == 0 then
      local i1, i2, i3 = byte(win, k + 2, k + 4)
      add_cand(s, (i1 * 256 + i2) * 256 + i3)
    end
    k = find(win, fp, k + 1, true)
  end
end

-- used slots of slice s in the ring sub-bucket at byte at of win (0 when a dead slice left it)
local function ring_count(win, at, s)
  local s1, s2, n = byte(win, at + 1, at + 3)
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
    local win = redis.call('GETRANGE', key, fmt('%d', off), fmt('%d', off + WIDTH - 1))
    if string.len(win) < WIDTH then return nil end
    if gather then
      local k = find(win, fp, 1, true)
      while k do
        if (k - 1) % SLOT == 0 then
          local i1, i2, i3 = byte(win, k + 2, k + 4)
          local id = (i1 * 256 + i2) * 256 + i3
          -- id 0 is an empty slot (a fingerprint can be 0x0000)
          if id > 0 then add_cand(s, id) end
        end
        k = find(win, fp, k + 1, true)
      end
    end
    local l1, l2, l3, l4, l5 = byte(win, WIDTH - 4, WIDTH)
    if l1 + l2 + l3 + l4 + l5 == 0 then
      -- the bucket has room: the entry's chain ends here
      if not want_free then return nil end
      local z = find(win, EMPTY, 1, true)
      while z and (z - 1) % SLOT ~= 0 do z = find(win, EMPTY, z + 1, true) end
      return off + z - 1
    end
  end
  return nil
end

-- 1. gather candidates from every table of every live slice
local ring_buckets = tonumber(m[2])
local live = {} -- {slice, tables} of every live slice that holds articles
local slice_at, live_stamp = {}, {} -- ring position -> live slice; stamps of live slices
for si = 0, cur - oldest do
  local t = tonumber(m[3 + si])
  if t then
    local s = cur - si
    live[#live + 1] = {s, t}
    slice_at[s % R], live_stamp[s % 65536] = s, true
  end
end
local t_cur = tonumber(m[3])
local pc = cur % R
-- where each entry would go in the current slice's ring sub-buckets: {bucket, used slots,
-- the bytes read, where its sub-bucket starts in them}; nil when not known (looked up again
-- at insert); for an overflow table the byte offset, false when 4 buckets were full
local free = {}
if ring_buckets and #live > 0 then
  local want = t_cur == 1
  local cur_at = 2 + pc * SUB
  for e = 1, n_entries do
    local fp = fps[e]
    local j = entries[e] % ring_buckets
    local win = redis.call('GETRANGE', ring_key, fmt('%d', j * BB), fmt('%d', (j + 1) * BB - 1))
    if string.len(win) == BB then
      -- one search of the whole bucket for the fingerprint (it is rarely there at all)
      local k = find(win, fp, 3, true)
      while k do
        local p = math.floor((k - 3) / SUB)
        local rel = k - 3 - p * SUB - HDR
        local s = slice_at[p]
        if s and rel >= 0 and rel % SLOT == 0 and rel < ring_count(win, 2 + p * SUB, s) * SLOT then
          local i1, i2, i3 = byte(win, k + 2, k + 4)
          add_cand(s, (i1 * 256 + i2) * 256 + i3)
        end
        k = find(win, fp, k + 1, true)
      end
      if want then
        local n = ring_count(win, cur_at, cur)
        if n < BUCKET then free[e] = {j, n, win, cur_at} end
      end
      -- chains out of this bucket, followed only when a live slice made one
      local o1, o2 = byte(win, 1, 2)
      if live_stamp[o1 * 256 + o2] then
        for _, l in ipairs(live) do
          local s = l[1]
          local p = s % R
          local n = ring_count(win, 2 + p * SUB, s)
          local step = 1
          while n == BUCKET and step < MAX_STEPS do
            local at = ((j + step) % ring_buckets) * BB + 2 + p * SUB
            local piece = redis.call('GETRANGE', ring_key, fmt('%d', at), fmt('%d', at + SUB - 1))
            n = string.len(piece) == SUB and ring_count(piece, 0, s) or 0
            if n > 0 then scan(piece, HDR, n, fp, s) end
            step = step + 1
          end
        end
      end
    end
  end
end
local Z = ring_buckets and ring_buckets * BUCKET
for _, l in ipairs(live) do
  local s, t = l[1], l[2]
  for i = 1, t - 1 do
    local key = fmt('%s:%d:t:%d', base, s, i)
    local newest = s == cur and i == t - 1
    for e = 1, n_entries do
      local empty = probe(key, Z * 2 ^ i, e, s, true, newest)
      if newest then free[e] = empty or false end
    end
  end
end

-- 2. verify each candidate against its stored record
local mine = #cands > 0 and {byte(rec, VAL0, ID0 - 1)} or {}
local function size_of(s)
  local b1, b2, b3, b4 = byte(s, 1, 4)
  return ((b1 * 256 + b2) * 256 + b3) * 256 + b4
end
local my_size, my_text = size_of(rec), sub(rec, 5, 12)
local exact_id, url_id, url_sim, best_id, best_sim = nil, nil, -1, nil, -1
for _, cand in ipairs(cands) do
  local pos = cand[2] - 1
  local off = (pos % PER_CHUNK) * rec_len
  local other = redis.call('GETRANGE', fmt('%s:%d:r:%d', base, cand[1], math.floor(pos / PER_CHUNK)),
                           fmt('%d', off), fmt('%d', off + rec_len - 1))
  local id_len = string.len(other) == rec_len and byte(other, ID0) or 0
  if id_len > 0 then
    local cid = sub(other, ID0 + 1, ID0 + id_len)
    -- a redelivered input finds itself: it was new the first time, so it still is
    if cid == doc_id then return {'new', doc_id, '', '0'} end
    local theirs = {byte(other, VAL0, ID0 - 1)}
    local same = 0
    for k = 1, #mine, 2 do
      if mine[k] == theirs[k] and mine[k + 1] == theirs[k + 1] then same = same + 1 end
    end
    local j = same / NUM_PERM
    if not exact_id and sub(other, 5, 12) == my_text then exact_id = cid end
    if url_fp ~= '' and sub(other, 13, 20) == url_fp and j > url_sim then url_id, url_sim = cid, j end
    local other_size = size_of(other)
    local small, large = math.min(my_size, other_size), math.max(my_size, other_size)
    -- containment of the smaller shingle set in the larger, from the Jaccard estimate:
    -- |A n B| = J (|A| + |B|) / (1 + J)
    local c = math.min(1, j * (my_size + other_size) / (1 + j) / math.max(1, small))
    local sim = -1
    if j >= JT then sim = j end
    if small / math.max(1, large) >= MIN_RATIO and c >= CT and c > sim then sim = c end
    if sim > best_sim then best_id, best_sim = cid, sim end
  end
end
if exact_id then return {'dup', exact_id, 'exact', '1.0'} end
if url_id then return {'dup', url_id, 'url', string.format('%.4f', url_sim)} end
if best_id and best_sim >= 0 then return {'dup', best_id, 'near', string.format('%.4f', best_sim)} end

-- 3. a new canonical article: index it in the current slice
-- SETRANGE on a missing key makes the string at its exact size, zero-filled, in C: ~39 us on
-- the server for a 79 KB record chunk, against ~410 us for SET of a string.rep (Lua builds the
-- string, then Redis copies it twice), the same bytes stored. UNLINK first, so that a key left
-- over is replaced, as SET did.
local function create(key, bytes)
  redis.call('UNLINK', key)
  redis.call('SETRANGE', key, fmt('%d', bytes - 1), '\0')
  redis.call('PEXPIREAT', key, fmt('%d', expire_at))
end
local t = t_cur
local count = redis.call('HINCRBY', meta, 'c' .. cur_s, '1')
if count > 16777215 then return redis.error_reply('dedup slice full (3-byte article ids)') end
if not t then
  -- a new slice: its first table is its position in the ring, made with the first slice
  if not ring_buckets or redis.call('EXISTS', ring_key) == 0 then
    ring_buckets = ring_buckets or NEW_SLOTS / BUCKET
    create(ring_key, ring_buckets * BB)
    redis.call('HSET', meta, 'ring', fmt('%d', ring_buckets))
  end
  Z, t = ring_buckets * BUCKET, 1
  redis.call('HSET', meta, 't' .. cur_s, '1')
  -- the meta hash and the ring live as long as the newest slice; fields of dead slices go
  redis.call('PEXPIREAT', meta, fmt('%d', expire_at))
  redis.call('PEXPIREAT', ring_key, fmt('%d', expire_at))
  for _, f in ipairs(redis.call('HKEYS', meta)) do
    local s = tonumber(sub(f, 2))
    if s and s < oldest and find('ct', sub(f, 1, 1), 1, true) then redis.call('HDEL', meta, f) end
  end
  free = {}
elseif count * n_entries > MAX_FILL * Z * (2 ^ t - 1) then
  -- the newest table is full enough: open an overflow table twice its size (lookups now
  -- read both)
  t = t + 1
  redis.call('HSET', meta, 't' .. cur_s, fmt('%d', t))
  create(fmt('%s:%d:t:%d', base, cur, t - 1), Z * 2 ^ (t - 1) * SLOT)
  free = {}
end
local pos = count - 1
local rkey = fmt('%s:%d:r:%d', base, cur, math.floor(pos / PER_CHUNK))
if pos % PER_CHUNK == 0 then create(rkey, PER_CHUNK * rec_len) end
redis.call('SETRANGE', rkey, fmt('%d', (pos % PER_CHUNK) * rec_len), rec)
local id3 = string.char(math.floor(count / 65536) % 256, math.floor(count / 256) % 256, count % 256)
local stamp = string.char(math.floor(cur / 256) % 256, cur % 256)

-- where entry e goes in the current slice's ring sub-buckets, read afresh: {bucket, used
-- slots, the bytes read, where the sub-bucket starts in them}, or nil after MAX_STEPS full
-- ones. Going past its home bucket stamps that bucket's overflow stamp (see the layout).
local function ring_free(e)
  local j = entries[e] % ring_buckets
  for step = 0, MAX_STEPS - 1 do
    local jb = (j + step) % ring_buckets
    local at = jb * BB + 2 + pc * SUB
    local piece = redis.call('GETRANGE', ring_key, fmt('%d', at), fmt('%d', at + SUB - 1))
    if string.len(piece) < SUB then return nil end
    local n = ring_count(piece, 0, cur)
    if n < BUCKET then
      if step > 0 then redis.call('SETRANGE', ring_key, fmt('%d', j * BB), stamp) end
      return {jb, n, piece, 0}
    end
  end
  return nil
end

local table_key = t > 1 and fmt('%s:%d:t:%d', base, cur, t - 1)
local slots = Z * 2 ^ (t - 1)
local used = {}
for e = 1, n_entries do
  local target = free[e]
  -- two entries of this article may have chosen the same sub-bucket or slot: look again
  -- (target false/nil: four full buckets in a row; the article is still findable by other bands)
  if t == 1 then
    if target == nil or (target and used[target[1]]) then target = ring_free(e) end
    if target then
      local jb, n, read, at = target[1], target[2], target[3], target[4]
      used[jb] = true
      -- header and slots up to the new one in one write; a sub-bucket left by a dead slice
      -- restarts at count 1 (its old slots beyond the count are never read)
      redis.call('SETRANGE', ring_key, fmt('%d', jb * BB + 2 + pc * SUB),
                 stamp .. string.char(n + 1) .. sub(read, at + HDR + 1, at + HDR + n * SLOT) .. fps[e] .. id3)
    end
  else
    if target == nil or (target and used[target]) then target = probe(table_key, slots, e, cur, false, true) end
    if target then
      used[target] = true
      redis.call('SETRANGE', table_key, fmt('%d', target), fps[e] .. id3)
    end
  end
end
return {'new', doc_id, '', '0'}
