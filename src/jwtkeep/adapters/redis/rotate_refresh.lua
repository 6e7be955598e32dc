-- rotate_refresh: RFC 9700 section 4.14.2 refresh token rotation with reuse detection.
-- KEYS: session hash, session details, user hash
-- ARGV: now, session member, presented fingerprint, new refresh fingerprint,
--       access field, access value, access exp, now + idle timeout, revocation event
--       (sent if the session ends for reuse), reuse interval (seconds, 0 for none)
--
-- Used-up fingerprints are kept as "u" .. <time used up>, at most USED_KEPT of them (the
-- newest): a session refreshed every 5 minutes for 30 days would otherwise keep 8,640
-- of them. A token older than that is unknown (refused all the same) instead of reused.
local USED_KEPT = 32
local now = tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'i', 'x', ARGV[3])
if not state[1] or not state[2] then
  return 'unknown'
end
local idle, absolute = tonumber(state[1]), tonumber(state[2])
if now >= math.min(idle, absolute) then
  return 'unknown'
end
if state[3] and string.sub(state[3], 1, 1) == 'u' then
  -- The current token's parent within the reuse interval: a client's own tabs racing.
  local interval = tonumber(ARGV[10])
  local used_at = tonumber(string.sub(state[3], 2))
  if interval > 0 and used_at and now - used_at <= interval and
      newest_used_at(KEYS[1]) == used_at then
    return 'raced'
  end
  -- A used-up refresh token came back: someone holds a copy. End the whole family and
  -- every access token it issued.
  local _, client = end_one_session(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
  announce_for(ARGV[9], {client}, client == nil)
  return 'reused'
end
if state[3] ~= 'c' then
  return 'unknown'
end
local new_idle = ARGV[8]
if tonumber(new_idle) > absolute then
  new_idle = state[2]
end
local expires = math.min(tonumber(new_idle), absolute)
redis.call('HSET', KEYS[1], ARGV[3], 'u' .. ARGV[1], ARGV[4], 'c', 'l', ARGV[1], 'i', new_idle)
forget_oldest_used(KEYS[1], USED_KEPT)
redis.call('PEXPIRE', KEYS[1], ttl_ms(expires, now))
redis.call('PEXPIRE', KEYS[2], ttl_ms(expires, now))
local exp = tonumber(ARGV[7])
local entry = 's' .. ARGV[2]
local keep = math.ceil(math.max(expires, exp, tonumber(redis.call('HGET', KEYS[3], entry) or 0)))
put(KEYS[3], now, {ARGV[5], ARGV[6], exp, entry, keep, keep})
return 'rotated'
