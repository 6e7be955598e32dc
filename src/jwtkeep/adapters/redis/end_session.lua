-- end_session: the refresh family and every access token of one session, at once.
-- KEYS: session hash, session details, user hash
-- ARGV: session member, revocation event
local removed = redis.call('DEL', KEYS[1], KEYS[2])
local ended = end_sessions(KEYS[3], function(member) return member == ARGV[1] end)
if removed + #ended > 0 then
  announce(ARGV[2])
end
return removed + #ended
