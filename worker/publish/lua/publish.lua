-- Idempotent publish of several events at once. For each event: if its event id was not
-- published before (SET NX on its marker key), XADD it with an approximate MAXLEN.
-- KEYS: marker_1, stream_1, marker_2, stream_2, ...
-- ARGV: ttl, maxlen, then type_1, id_1, data_1, type_2, id_2, data_2, ...
-- Returns the stream entry ids ('' for events already published).
local ttl, maxlen = tonumber(ARGV[1]), ARGV[2]
local out = {}
for i = 1, #KEYS, 2 do
  local a = 3 + ((i - 1) / 2) * 3
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ttl) then
    out[#out + 1] = redis.call('XADD', KEYS[i + 1], 'MAXLEN', '~', maxlen, '*',
      'type', ARGV[a], 'id', ARGV[a + 1], 'data', ARGV[a + 2])
  else
    out[#out + 1] = ''
  end
end
return out
