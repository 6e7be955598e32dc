-- raise_cutoff: a cut-off only ever moves forward (two operators, or two clocks, can
-- never bring back what an earlier run ended).
-- KEYS: the cut-off hash
-- ARGV: field ('*' for everyone, 'c' .. client_id for one app), cut-off (Unix seconds),
--       revocation event (published with the raise, in this one step)
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > current then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  announce(ARGV[3])
end
return 1
