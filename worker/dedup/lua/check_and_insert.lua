-- Atomic duplicate check and insert against the time-sliced index. Runs as one script, so two
-- workers that ingest copies of the same article at the same moment are serialised: the
-- first inserts, the second finds it.
--
-- Layout (names as in worker/store/keys.py; B = '<prefix>:dd', n = slice number):
--   KEYS[1] = B:meta  hash: digest/scheme (MinHash scheme and layout), and per live slice n:
--                     z<n> slots of its first table, t<n> tables, c<n> articles
--   B:n:t:<i>         string: open-addressing table i of slice n (z<n> * 2^i slots); a slot is
--                     5 bytes (2-byte fingerprint, 3-byte article id, 0 = empty), slots are
--                     grouped in buckets of 8 read with one GETRANGE
--   B:n:r:<c>         string: fixed-size article records; article id a is record
--                     (a-1) % per_chunk of chunk (a-1) // per_chunk
-- Each LSH band of an article and its canonical URL are one slot each. Every key of slice n
-- expires at the same instant, (n+1) * slice_ms + window_ms, so a whole slice vanishes at
-- once and no key outlives the records its ids point to.
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

local cur = math.floor(now / slice_ms)
local oldest = math.floor((now - window) / slice_ms)
local expire_at = (cur + 1) * slice_ms + window

-- 0. one read of the meta hash: scheme digest, then each live slice's tables
local fields = {'digest', 'c' .. cur}
for s = cur, oldest, -1 do
  fields[#fields + 1] = 'z' .. s
  fields[#fields + 1] = 't' .. s
end
local m = redis.call('HMGET', meta, unpack(fields))
if not m[1] then
  redis.call('HSET', meta, 'digest', ARGV[17], 'scheme', ARGV[18])
  redis.call('PEXPIREAT', meta, expire_at)
elseif m[1] ~= ARGV[17] then
  -- an upgrade must not mix signatures of another library version or permutation scheme
  return {'incompatible', m[1], '', '0'}
end

-- entry hashes: one per band (from its rows' values) and one for the URL
local function u32(s, from, to)
  local h = 0
  for i = from, to do h = (h * 256 + string.byte(s, i)) % 4294967291 end
  return h
end
local entries = {}
local width = rows * 2
for b = 0, bands - 1 do
  local off = VAL0 + b * width
  -- multiplier < 2^21 keeps the product exact in Lua's doubles
  entries[#entries + 1] = (u32(rec, off, off + width - 1) * 1000003 + b * 40503 + 7) % 4294967291
end
if url_fp ~= '' then
  entries[#entries + 1] = (u32(url_fp, 1, 4) * 1000003 + bands * 40503 + 7) % 4294967291
end

-- probe one table for one entry: adds each slot with the entry's fingerprint to the
-- candidates (when gathering), returns the byte offset of the first empty slot (where the
-- entry would go) or nil after MAX_STEPS full buckets
local cands, seen = {}, {}
local function probe(key, slots, h, s, gather)
  local nbuckets = slots / BUCKET
  local fp = string.char(math.floor(h / 16777216) % 256, math.floor(h / 65536) % 256)
  local first = h % nbuckets
  for step = 0, MAX_STEPS - 1 do
    local off = ((first + step) % nbuckets) * WIDTH
    local win = redis.call('GETRANGE', key, off, off + WIDTH - 1)
    if string.len(win) < WIDTH then return nil end
    -- slots fill a bucket from its start (no deletions), so the occupied slots are a prefix;
    -- string.find runs in C, a byte-by-byte Lua loop would cost more than the GETRANGE
    local used_len = WIDTH
    local z = string.find(win, EMPTY, 1, true)
    while z and (z - 1) % SLOT ~= 0 do z = string.find(win, EMPTY, z + 1, true) end
    if z then used_len = z - 1 end
    if gather and used_len > 0 then
      local k = string.find(win, fp, 1, true)
      while k and k < used_len do
        if (k - 1) % SLOT == 0 then
          local i1, i2, i3 = string.byte(win, k + 2, k + 4)
          local id = (i1 * 256 + i2) * 256 + i3
          local ck = s .. ':' .. id
          if not seen[ck] and #cands < max_cand then
            seen[ck] = true
            cands[#cands + 1] = {s, id}
          end
        end
        k = string.find(win, fp, k + 1, true)
      end
    end
    if z then return off + used_len end
  end
  return nil
end

-- 1. gather candidates from every table of every live slice, newest first
local free = {} -- current slice, newest table: entry index -> empty slot offset
for si = 0, cur - oldest do
  local s = cur - si
  local z, t = tonumber(m[3 + 2 * si]), tonumber(m[4 + 2 * si])
  if z then
    for i = 0, t - 1 do
      local key = base .. ':' .. s .. ':t:' .. i
      local slots = z * 2 ^ i
      for e = 1, #entries do
        local empty = probe(key, slots, entries[e], s, true)
        if s == cur and i == t - 1 then free[e] = empty or false end
      end
    end
  end
end

-- 2. verify each candidate against its stored record
local mine = {string.byte(rec, VAL0, ID0 - 1)}
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
local z, t = tonumber(m[3]), tonumber(m[4])
local count = redis.call('HINCRBY', meta, 'c' .. cur, 1)
if count > 16777215 then return redis.error_reply('dedup slice full (3-byte article ids)') end
if not z then
  z, t = new_slots, 1
  redis.call('HSET', meta, 'z' .. cur, z, 't' .. cur, t)
  -- the meta hash lives as long as the newest slice; fields of dead slices go
  redis.call('PEXPIREAT', meta, expire_at)
  for _, f in ipairs(redis.call('HKEYS', meta)) do
    local s = tonumber(string.sub(f, 2))
    if s and s < oldest and string.find('zct', string.sub(f, 1, 1), 1, true) then redis.call('HDEL', meta, f) end
  end
  create(base .. ':' .. cur .. ':t:0', z * SLOT)
  free = {}
elseif count * #entries > max_fill * z * (2 ^ t - 1) then
  -- the newest table is full enough: open one twice its size (lookups now read both)
  z, t = z, t + 1
  redis.call('HSET', meta, 't' .. cur, t)
  create(base .. ':' .. cur .. ':t:' .. (t - 1), z * 2 ^ (t - 1) * SLOT)
  free = {}
end
local table_key = base .. ':' .. cur .. ':t:' .. (t - 1)
local slots = z * 2 ^ (t - 1)
local pos = count - 1
local rkey = base .. ':' .. cur .. ':r:' .. math.floor(pos / per_chunk)
if pos % per_chunk == 0 then create(rkey, per_chunk * rec_len) end
redis.call('SETRANGE', rkey, (pos % per_chunk) * rec_len, rec)
local id3 = string.char(math.floor(count / 65536) % 256, math.floor(count / 256) % 256, count % 256)
local used = {}
for e = 1, #entries do
  local h = entries[e]
  local off = free[e]
  -- two entries of this article may have found the same empty slot: look again
  if off == nil or (off and used[off]) then off = probe(table_key, slots, h, cur, false) end
  if off then used[off] = true end
  -- off false/nil: four full buckets in a row; the article is still findable by other bands
  if off then
    local fp = string.char(math.floor(h / 16777216) % 256, math.floor(h / 65536) % 256)
    redis.call('SETRANGE', table_key, off, fp .. id3)
  end
end
return {'new', doc_id, '', '0'}
