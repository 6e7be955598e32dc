-- end_session: the refresh family and every access token of one session, at once.
-- KEYS: session hash, session details, user hash
-- ARGV: session member, revocation event
local removed, client = end_one_session(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
if removed > 0 then
  announce_for(ARGV[2], {client}, client == nil)
end
return removed
