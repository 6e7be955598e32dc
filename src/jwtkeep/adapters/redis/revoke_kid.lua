-- revoke_kid: the key-leak drill on one user's hash: drop every access token signed by the
-- withdrawn key (its 4-byte kid tag). The event goes out once, from the caller, before
-- the first of these runs.
-- KEYS: user hash
-- ARGV: kid tag
local fields = redis.call('HGETALL', KEYS[1])
local killed = 0
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 1) == 'a' and string.sub(fields[i + 1], 6, HEAD) == ARGV[1] then
    redis.call('HDEL', KEYS[1], fields[i])
    killed = killed + 1
  end
end
return killed
