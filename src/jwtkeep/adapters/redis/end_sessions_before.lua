-- end_sessions_before: the sweep after a cut-off (`revoke-everything`, or one app
-- disabled or deleted): every session of the user that started at or before the
-- cut-off (of that app, if one is given), with its refresh family and access tokens.
-- Sessions started after it, and tokens without a session (client_credentials, whose
-- `sub` is the app and which the caller ends by that user), stay; a cut-off refuses
-- the rest until they expire.
-- KEYS: user hash
-- ARGV: cut-off (Unix seconds), client_id ('' for every app)
local before, client = tonumber(ARGV[1]), ARGV[2]
local verdict, count = {}, 0
local function old(member)
  local known = verdict[member]
  if known == nil then
    local details = redis.call('GET', session_key(KEYS[1], member, 'm'))
    known = false
    if details then
      local fixed = cjson.decode(details)  -- [client_id, scope, created_at, ...]
      known = fixed[3] <= before and (client == '' or fixed[1] == client)
    end
    verdict[member] = known
    if known then
      count = count + 1
    end
  end
  return known
end
end_sessions(KEYS[1], old)
return count
