-- list_sessions: the user's sessions that may still be alive, with their fields.
-- KEYS: user hash
-- ARGV: now
local now = tonumber(ARGV[1])
local out = {}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 1) == 's' and tonumber(fields[i + 1]) > now then
    local member = string.sub(fields[i], 2)
    local clock = redis.call('HMGET', session_key(KEYS[1], member, 's'), 'l', 'i', 'x')
    local details = redis.call('GET', session_key(KEYS[1], member, 'm'))
    if clock[1] and details then
      out[#out + 1] = member
      out[#out + 1] = {clock[1], clock[2], clock[3], details}
    end
  end
end
return out
