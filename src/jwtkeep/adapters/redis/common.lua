-- Helpers prepended to every jwtkeep script (see scripts.py; the layout is in layout.py).
-- Times are Unix seconds handed in by the caller's injected clock, never Redis TIME, and
-- every value that is stored comes in as the caller's own bytes, so nothing is
-- re-formatted here (Lua would round numbers to 14 digits).
--
-- The user hash holds 'a' .. fingerprint -> exp (5 bytes, big-endian) .. kid tag (4
-- bytes) .. session member, and 's' .. session member -> keep-until. A session member is
-- 'r' .. 16 raw bytes or 't' .. text.

-- Revocation events (jwtkeep.core.revocation_events) go out on this channel from the
-- script that makes the change, so no subscriber can see the change without the event,
-- or the event before the change (a script's effects and its PUBLISH are one step).
-- Classic PUBLISH: in a Cluster it reaches every node's subscribers (SPUBLISH would have
-- to name a channel in the slot of the user's keys).
local EVENTS = 'jwtkeep:revocations'
local HEAD = 9 -- exp (5 bytes) and kid tag (4 bytes) before the session member

local MAX_EVENT_BYTES = 1024 -- jwtkeep.core.revocation_events.MAX_EVENT_BYTES

local function announce(payload)
  if payload ~= nil and payload ~= '' then
    redis.call('PUBLISH', EVENTS, payload)
  end
end

-- The event (encoded by the caller, without `clients`) with the apps whose tokens the
-- change ended, so the issuer's HTTPS stream sends it only to the apps that may know it.
-- When one is not known (a token of no session, client_credentials: its app is not
-- stored here), or the list would make the event too long, it goes out without them,
-- and the stream sends it to every subscriber (the safe reading).
local function announce_for(payload, clients, unknown)
  if payload ~= nil and payload ~= '' and not unknown and #clients > 0 then
    table.sort(clients)
    local quoted = {}
    for i, client in ipairs(clients) do
      quoted[i] = cjson.encode(client)
    end
    local named = string.sub(payload, 1, -2) .. ',"clients":[' .. table.concat(quoted, ',') .. ']}'
    if #named <= MAX_EVENT_BYTES then
      payload = named
    end
  end
  announce(payload)
end

-- The client (app) of a session, from its details string ([client_id, scope, ...]); nil
-- if there are none.
local function client_in(details_key)
  local details = redis.call('GET', details_key)
  if details then
    local ok, fixed = pcall(cjson.decode, details)
    if ok and type(fixed) == 'table' and type(fixed[1]) == 'string' and fixed[1] ~= '' then
      return fixed[1]
    end
  end
  return nil
end

local function ttl_ms(until_t, now)
  return math.max(1000, math.ceil((until_t - now) * 1000))
end

-- Move a key's expiry later, never earlier.
local function extend(key, until_t, now)
  local ms = ttl_ms(until_t, now)
  if redis.call('PTTL', key) < ms then
    redis.call('PEXPIRE', key, ms)
  end
end

local function exp_of(value)
  local exp = 0
  for i = 1, 5 do
    exp = exp * 256 + string.byte(value, i)
  end
  return exp
end

-- When a user-hash entry dies: an access token at its exp, a session index entry at its
-- keep-until.
local function dies_at(field, value)
  if string.sub(field, 1, 1) == 'a' then
    return exp_of(value)
  end
  return tonumber(value)
end

-- Drop dead entries from the user hash. A small hash is checked whole; a big one (many
-- live tokens of one user, e.g. an app's client_credentials tokens) by a sample of 16
-- per write, which keeps the dead share near 1/16 at O(1) per write. The key's TTL is
-- the backstop: it ends with the last entry's time.
local function prune(ukey, now)
  local fields
  if redis.call('HLEN', ukey) <= 16 then
    fields = redis.call('HGETALL', ukey)
  else
    fields = redis.call('HRANDFIELD', ukey, 16, 'WITHVALUES')
  end
  for i = 1, #fields, 2 do
    if dies_at(fields[i], fields[i + 1]) <= now then
      redis.call('HDEL', ukey, fields[i])
    end
  end
end

-- Add entries (field, value, dies-at triples) to the user hash after pruning it.
local function put(ukey, now, entries)
  prune(ukey, now)
  local latest = now
  for i = 1, #entries, 3 do
    redis.call('HSET', ukey, entries[i], entries[i + 1])
    latest = math.max(latest, entries[i + 2])
  end
  extend(ukey, latest, now)
end

-- The key of a session's hash (kind 's') or details string (kind 'm'), from the user
-- hash key and the session member.
local function session_key(ukey, member, kind)
  local letter = kind
  if string.sub(member, 1, 1) ~= 'r' then
    letter = string.upper(kind)
  end
  return ukey .. letter .. string.sub(member, 2)
end

-- End sessions: their hashes (refresh families), their access tokens and index entries.
-- `ends(member)` says which sessions; returns the members of those that held anything,
-- their clients (distinct) and whether any one's client was not known (for the event).
local function end_sessions(ukey, ends)
  local ended, seen, clients, noted, listed, unknown = {}, {}, {}, {}, {}, false
  local function mark(member)
    if not seen[member] then
      seen[member] = true
      ended[#ended + 1] = member
    end
  end
  local function note(member) -- before its details go
    if not noted[member] then
      noted[member] = true
      local client = client_in(session_key(ukey, member, 'm'))
      if client == nil then
        unknown = true
      elseif not listed[client] then
        listed[client] = true
        clients[#clients + 1] = client
      end
    end
  end
  local fields = redis.call('HGETALL', ukey)
  for i = 1, #fields, 2 do
    local field, kind, member = fields[i], string.sub(fields[i], 1, 1), nil
    if kind == 'a' then
      member = string.sub(fields[i + 1], HEAD + 1)
    else
      member = string.sub(field, 2)
    end
    if ends(member) then
      note(member)
      redis.call('HDEL', ukey, field)
      if kind == 's' then
        redis.call('DEL', session_key(ukey, member, 's'), session_key(ukey, member, 'm'))
      end
      mark(member)
    end
  end
  return ended, clients, unknown
end

-- End one session (logout, refresh-token reuse): its hash and details (`skey`, `dkey`),
-- its refresh family and access tokens. How many things went, and its client (nil if
-- not known), read before its details go.
local function end_one_session(skey, dkey, ukey, member)
  local client = client_in(dkey)
  local ended = end_sessions(ukey, function(m) return m == member end)
  return redis.call('DEL', skey, dkey) + #ended, client
end

-- Keep at most `kept` used-up refresh fingerprints ("u" .. time) in a session hash: drop
-- the oldest. The hash is small (its clock fields, one current token, `kept` used ones).
local function forget_oldest_used(skey, kept)
  local fields = redis.call('HGETALL', skey)
  local used, oldest, oldest_at = 0, nil, nil
  for i = 1, #fields, 2 do
    local value = fields[i + 1]
    if #fields[i] == 32 and string.sub(value, 1, 1) == 'u' then
      used = used + 1
      local at = tonumber(string.sub(value, 2)) or 0
      if oldest_at == nil or at < oldest_at then
        oldest, oldest_at = fields[i], at
      end
    end
  end
  if used > kept then
    redis.call('HDEL', skey, oldest)
  end
end

-- When the newest used-up refresh token of a session hash was used up (nil if none).
local function newest_used_at(skey)
  local fields = redis.call('HGETALL', skey)
  local newest = nil
  for i = 1, #fields, 2 do
    local value = fields[i + 1]
    if #fields[i] == 32 and string.sub(value, 1, 1) == 'u' then
      local at = tonumber(string.sub(value, 2))
      if at and (newest == nil or at > newest) then
        newest = at
      end
    end
  end
  return newest
end
