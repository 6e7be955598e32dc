-- remove_access: revoke one access token, only if it belongs to the given session.
-- KEYS: user hash
-- ARGV: field ('a' .. fingerprint), session member, revocation event
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value and string.sub(value, HEAD + 1) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  announce(ARGV[3])
  return 1
end
return 0
