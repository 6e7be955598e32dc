-- start_session: the session, its current refresh fingerprint and its first access token,
-- all at once; or nothing at all if the session exists (the port's duplicate-sid rule).
-- KEYS: session hash, session details, user hash
-- ARGV: now, session member, keep-until, session ttl (ms), access field, access value,
--       access exp, refresh fingerprint ('' for none), details, then the session hash's
--       field/value pairs
-- Returns 1 (started) or 0 (the sid exists: nothing changed).
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  -- This very call sent again after a lost reply (its first access token is there,
  -- bound to this session) is not a duplicate.
  if redis.call('HGET', KEYS[3], ARGV[5]) == ARGV[6] then
    return 1
  end
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 10))
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[8], 'c')
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[9], 'PX', ARGV[4])
put(KEYS[3], now, {
  ARGV[5], ARGV[6], tonumber(ARGV[7]),
  's' .. ARGV[2], ARGV[3], tonumber(ARGV[3]),
})
return 1
