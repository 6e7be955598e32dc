-- end_user_sessions: every session of the user but one (or none), at once.
-- KEYS: user hash
-- ARGV: the session member to keep ('' for none), revocation event
local ended, clients, unknown = end_sessions(KEYS[1], function(member) return member ~= ARGV[1] end)
if #ended > 0 then
  announce_for(ARGV[2], clients, unknown)
end
return ended
