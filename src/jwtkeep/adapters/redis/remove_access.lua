-- remove_access: revoke one access token, only if it belongs to the given session.
-- KEYS: user hash
-- ARGV: field ('a' .. fingerprint), session member, revocation event
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value and string.sub(value, HEAD + 1) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  local client = client_in(session_key(KEYS[1], ARGV[2], 'm'))
  announce_for(ARGV[3], {client}, client == nil)
  return 1
end
return 0
