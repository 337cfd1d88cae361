/**
 * The Lua scripts of the Redis store that write entries: SET_SCRIPT (one entry, or a streamed
 * value's last step) and SET_MANY_SCRIPT (a batch of one tick's writes), both built on PUT. The
 * fragments they share with the delete and touch scripts are in scripts.ts; the same rules
 * hold (one namespace's keys, one hash slot, per script).
 */
import { LuaScript } from './lua-script';
import { HEAD, MEMBER, RETIRE, TAGS } from './scripts';

/** Fixed KEYS of SET_SCRIPT, before the index keys. */
export const WRITE_FIXED_KEYS = 9;
/** Fixed KEYS of SET_MANY_SCRIPT, before the first entry's keys. */
const MANY_FIXED_KEYS = 6;

/**
 * Lua: checks, before a write script's first write, that the namespace's shared records are
 * of their types (or absent), so that no write of the script can fail half-way on them.
 * Returns an error text, or nothing.
 */
const RECORDS = `
local function wrongRecord(z, xz, p)
  for _, r in ipairs({ { z, 'zset' }, { xz, 'zset' }, { p, 'set' } }) do
    local t = redis.call('TYPE', r[1]).ok
    if t ~= r[2] and t ~= 'none' then return 'the record ' .. r[1] .. ' is a ' .. t .. ', not a ' .. r[2] .. ': clear() removes it' end
  end
end
`;

/**
 * Lua: the namespace's creation sequence counter `c`, read once per script and written back
 * once at its end (saveSequence), not INCR'd per entry: a script is atomic, so no other
 * command sees it in between. `takeSequence` gives the next sequence, or nothing when the
 * counter holds something that is not a whole number of at most 15 digits (another type, or
 * text: what INCR would refuse; a sequence never reaches 15 digits).
 */
const SEQUENCE = `
local counter, counterTaken = nil, false
local function takeSequence(c)
  if counter == nil then
    local v = redis.pcall('GET', c)
    counter = false
    if v == false then
      counter = 0
    elseif type(v) == 'string' and #v <= 15 and string.match(v, '^%d+$') then
      counter = tonumber(v)
    end
  end
  if not counter then return nil end
  counter = counter + 1
  counterTaken = true
  return counter
end
local function saveSequence(c)
  if counterTaken then redis.call('SET', c, string.format('%d', counter)) end
end
`;

/**
 * Lua: writes one entry with its order, expiry, index and tag records (equality indexes
 * KEYS[i1..i2], ordered ones KEYS[o1..o2] with their descriptors from ARGV[ad]),
 * all or nothing: every argument is checked before the first write (an expiry Redis could not
 * store, a missing stream), the index sets, the only records a stranger's key of another type
 * can block (the shared ones are checked once per script; the counter is read once, see
 * SEQUENCE), are written first and undone if one fails. Returns nothing on success, or the
 * reason it wrote nothing. Per entry it costs the server a few commands, since a batch's
 * entries are mostly new (an import) or overwrites (a cache): a new entry's old records are
 * looked for only when the order set lists its id, each index key is registered in `p` once
 * per script, and a streamed value's chunk key is named only when there is one to retire.
 * An id that is absent, or present but expired by the caller's clock, is a new entry: it gets
 * the next creation sequence (in the order set and in every index), or `reserved` when the
 * caller took one from the counter when its call started (setStream), or assigned it (a
 * sharded namespace: sequence.ts). Overwriting a live entry
 * keeps its position and its createdAt (the head's times, layout.ts: getMeta). mode 'v' stores
 * `payload`, the whole entry string built by the caller (`<expiry>.<now>.<now>v<value text>`,
 * whose createdAt is replaced by the live entry's; one without times, `<expiry>v<value text>`,
 * is stored as it is); mode 'c' renames the chunks hash `tmp` onto the entry's chunk key `ck`
 * and stores `<expiry>.<createdAt>.<now>c<payload chunk count>:<gen>`. A value written over a streamed one
 * retires the old chunks to a grace key (see RETIRE: prefix `gp`, `grace` ms). The entry
 * string and its chunks expire natively at `exp`. A key of another type at the entry's name
 * is overwritten. The entry's tag records are replaced by the tags whose member prefixes are
 * ARGV[t1..t2] (none: the entry is left untagged; see TAGS), in the same script, so no reader
 * ever sees the entry with another write's tags.
 */
const PUT = `${HEAD}${RECORDS}${RETIRE}${MEMBER}${TAGS}${SEQUENCE}
local registered = {}
local function register(p, k)
  if not registered[k] then
    redis.call('SADD', p, k)
    registered[k] = true
  end
end
local function put(e, ck, z, xz, c, p, tg, tz, id, now, exp, mode, payload, gen, tmp, gp, grace, reserved, i1, i2, o1, o2, ad, t1, t2)
  if exp ~= '0' and not (#exp <= 15 and string.match(exp, '^[1-9]%d*$')) then
    return 'the expiry ' .. exp .. ' is not a whole number of epoch ms from 1 to 999999999999999'
  end
  if mode ~= 'v' and redis.call('EXISTS', tmp) == 0 then return 'the streamed chunks ' .. tmp .. ' are gone' end
  -- In a namespace without tagged entries (known after the script's first write) an untagged write skips the tags.
  local tagging = t2 >= t1
  if tagged ~= false or tagging then
    local wrong = wrongTags(tg, tz, tagging)
    if wrong then return wrong end
  end
  local h = head(e)
  local old, oldKind, oldCreated, wasLive
  if h ~= '' then
    old, oldKind, oldCreated = parse(h)
    wasLive = live(old, now)
  end
  -- Whether the order set lists the id (a live entry's always is). One it does not list has no
  -- expiry, tag or ordered record either (every script writes and removes those with its order
  -- record): its write has nothing of an earlier entry to take away.
  local listed = true
  if not wasLive then
    local seq = tonumber(reserved) or takeSequence(c)
    if not seq then return 'the counter ' .. c .. ' does not hold a number: clear() removes it' end
    local sseq = string.format('%d', seq)
    for i = i1, i2 do
      if type(redis.pcall('ZADD', KEYS[i], sseq, id)) ~= 'number' then
        for j = i1, i - 1 do redis.call('ZREM', KEYS[j], id) end
        return 'the index ' .. KEYS[i] .. ' is not a sorted set'
      end
    end
    -- The order record, added only if the id has none: one command both writes it and says whether it was listed.
    listed = redis.call('ZADD', z, 'NX', sseq, id) == 0
    -- An expired entry not yet swept still has its ordered members, built with its old sequence: they go.
    if listed then
      local prior = tonumber(redis.call('ZSCORE', z, id))
      for i = o1, o2 do
        local _, m, legacy = member(ARGV[ad + i - o1], prior, id)
        if legacy then redis.pcall('ZREM', KEYS[i], m, legacy) else redis.pcall('ZREM', KEYS[i], m) end
      end
    end
    for i = o1, o2 do
      local score, m = member(ARGV[ad + i - o1], sseq, id)
      if type(redis.pcall('ZADD', KEYS[i], score, m)) ~= 'number' then
        for j = i1, i2 do redis.call('ZREM', KEYS[j], id) end
        if not listed then redis.call('ZREM', z, id) end
        for j = o1, i - 1 do
          local _, mj = member(ARGV[ad + j - o1], sseq, id)
          redis.call('ZREM', KEYS[j], mj)
        end
        return 'the index ' .. KEYS[i] .. ' is not a sorted set'
      end
    end
    if listed then redis.call('ZADD', z, sseq, id) end
    for i = i1, i2 do register(p, KEYS[i]) end
    for i = o1, o2 do register(p, KEYS[i]) end
  end
  if tagged or tagging then retag(tg, tz, id, t1, t2, listed) end
  local text, keepAt, created = payload, nil, nil
  -- SET_MANY passes no chunk key: only an old streamed value needs one, named like layout.ts's.
  if oldKind == 'c' then retire(ck or string.sub(z, 1, -2) .. 'k:' .. id, gp, grace) end
  if mode ~= 'v' then
    redis.call('RENAME', tmp, ck)
    redis.call('HSET', ck, 'g', gen)
    local t = string.format('%d', math.max(0, now))
    created = t
    if wasLive then created = oldCreated or '' end
    text = exp .. '.' .. created .. '.' .. t .. 'c' .. payload .. ':' .. gen
  elseif wasLive then
    -- Overwriting a live entry keeps its createdAt ('' when unknown: written before times were
    -- recorded): patched in place after the SET when it has the width of the one the client
    -- wrote (epoch ms nearly always do), else the head is rebuilt (copying the value once).
    local pe, pc = string.match(payload, '^(%d+)%.(%d*)%.')
    created = oldCreated or ''
    if pe and pc ~= created then
      if #pc == #created then keepAt = #pe + 1 else text = pe .. '.' .. created .. string.sub(payload, #pe + #pc + 2) end
    end
  end
  if exp ~= '0' then
    redis.call('SET', e, text, 'PXAT', exp)
    if mode ~= 'v' then redis.call('PEXPIREAT', ck, exp) end
    redis.call('ZADD', xz, exp, id)
  else
    redis.call('SET', e, text)
    if mode ~= 'v' then redis.call('PERSIST', ck) end
    -- An entry stored without expiry is never in the expiry set (nor is an id the order set does not list).
    if old ~= '0' and listed then redis.call('ZREM', xz, id) end
  end
  if keepAt then redis.call('SETRANGE', e, keepAt, created) end
end
`;

/**
 * Writes one entry (see PUT); a write that cannot be made fails with an error reply and leaves nothing.
 * KEYS: entry, chunk key, order, expiry, counter, registry, temp (mode c; else the entry again),
 * entry tags, tag records, equality index keys, ordered index keys.
 * ARGV: id, now, expiresAt ('0' = none), mode, entry string (mode v) | chunk count (mode c),
 * generation (mode c; else ''), grace key prefix, grace (ms), a creation sequence reserved when
 * the call started (mode c; else ''), the number of equality index keys, the number of tags,
 * one member prefix per tag (tags.ts), then one descriptor per ordered index key (ordered.ts).
 */
export const SET_SCRIPT = new LuaScript(`${PUT}
local n, nt = tonumber(ARGV[10]), tonumber(ARGV[11])
local failed = wrongRecord(KEYS[3], KEYS[4], KEYS[6])
  or put(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[8], KEYS[9], ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6], KEYS[7], ARGV[7], ARGV[8], ARGV[9],
    ${WRITE_FIXED_KEYS + 1}, ${WRITE_FIXED_KEYS} + n, ${WRITE_FIXED_KEYS + 1} + n, #KEYS, 12 + nt, 12, 11 + nt)
saveSequence(KEYS[5])
if failed then return redis.error_reply(failed) end
return 1
`);

/**
 * Writes several entries of one namespace in one round trip, in order (see PUT). Each entry
 * stands alone: one that cannot be written leaves nothing and the others are written.
 * KEYS: order, expiry, counter, registry, entry tags, tag records, then per entry: its entry
 * key, its equality index keys, its ordered index keys (no chunk key: see PUT).
 * ARGV: now, grace key prefix, grace (ms), '1' when every entry brings its creation sequence (a
 * sharded namespace, sequence.ts; else ''), then per entry: id, expiresAt ('0' = none), number
 * of equality index keys, entry string, number of ordered index keys, number of tags, its
 * creation sequence (only with '1'), one member prefix per tag, one descriptor per ordered key.
 * Returns the entries that failed, as [position (0-based), reason, ...]: empty when all were written.
 */
export const SET_MANY_SCRIPT = new LuaScript(`${PUT}
local z, xz, c, p, tg, tz = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local failed = wrongRecord(z, xz, p)
if failed then return redis.error_reply(failed) end
local now, gp, grace, sequenced = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4] == '1'
local ki, a, pos, failures, last = ${MANY_FIXED_KEYS + 1}, 5, 0, {}, #ARGV
while a <= last do
  local n, m, nt = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local reserved, t = false, a + 6
  if sequenced then reserved, t = ARGV[a + 6], a + 7 end
  local d = t + nt
  failed = put(KEYS[ki], false, z, xz, c, p, tg, tz, ARGV[a], now, ARGV[a + 1], 'v', ARGV[a + 3], false, false, gp, grace, reserved,
    ki + 1, ki + n, ki + 1 + n, ki + n + m, d, t, d - 1)
  if failed then
    failures[#failures + 1] = pos
    failures[#failures + 1] = failed
  end
  ki = ki + 1 + n + m
  a = d + m
  pos = pos + 1
end
saveSequence(c)
return failures
`);
