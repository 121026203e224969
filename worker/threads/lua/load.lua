-- Round trip 3 of an assignment: the whole hash of the chosen story and of its thread (or of
-- the chosen thread when the article starts a story).
-- KEYS[1]: the story's hash, or "" for a new story; KEYS[2]: the chosen thread's hash, or "".
-- ARGV[1]: key prefix of a thread hash ("<prefix>:th:thread:"), to find the story's thread.
-- Returns {story fields, thread fields} (flat HGETALL replies, empty when absent).
local story, thread = {}, {}
local thread_key = KEYS[2]
if KEYS[1] ~= '' then
  story = redis.call('HGETALL', KEYS[1])
  local tid = redis.call('HGET', KEYS[1], 'thread')
  if tid then
    thread_key = ARGV[1] .. tid
  end
end
if thread_key ~= '' then
  thread = redis.call('HGETALL', thread_key)
end
return {story, thread}
