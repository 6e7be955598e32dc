-- end_user_sessions: every session of the user but one (or none), at once.
-- KEYS: user hash
-- ARGV: the session member to keep ('' for none)
return end_sessions(KEYS[1], function(member) return member ~= ARGV[1] end)
