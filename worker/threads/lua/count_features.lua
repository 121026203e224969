-- Learn document frequencies: +1 for each feature of one article, and +1 article.
-- KEYS[1]: hash feature -> documents containing it; KEYS[2]: documents seen.
-- ARGV: the article's distinct features.
for i = 1, #ARGV do
  redis.call('HINCRBY', KEYS[1], ARGV[i], 1)
end
return redis.call('INCR', KEYS[2])
