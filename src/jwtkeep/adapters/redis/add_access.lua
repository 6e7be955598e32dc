-- add_access: allowlist one access token.
-- KEYS: user hash
-- ARGV: now, field ('a' .. fingerprint), value (exp .. session member), exp
local now = tonumber(ARGV[1])
put(KEYS[1], now, {ARGV[2], ARGV[3], tonumber(ARGV[4])})
return 1
