/**
 * The Lua scripts of the Redis store that write (read-scripts.ts has the ones that read and
 * maintain; lua-script.ts how they run). Each one touches the keys of a single namespace, which
 * share a hash slot (see layout.ts), so every script is atomic on a standalone server and
 * on a cluster alike. Every key a write script touches is passed in KEYS, as Redis Cluster
 * asks; the read-only WALK derives entry keys from a prefix, in the same slot.
 *
 * Index key names are computed in JavaScript only (RedisLayout.indexesOf): they are a pure
 * function of the entry's id, so deleting or expiring an entry never needs to read the entry,
 * and no Lua code has to re-implement the index tokens.
 */
import { LuaScript } from './lua-script';
import { SEQ_DIGITS } from './ordered';

/**
 * How many bytes of an entry string scripts read to parse its head (GETRANGE): the expiry and
 * both times (15 digits each at most), their dots, the kind letter, and a streamed value's
 * chunk count and the first character of its generation.
 */
export const HEAD_BYTES = 80;

/** Fixed KEYS of SET_SCRIPT, before the index keys. */
export const WRITE_FIXED_KEYS = 9;
/** Fixed KEYS of SET_MANY_SCRIPT, before the first entry's keys. */
const MANY_FIXED_KEYS = 6;
/** Fixed KEYS of DROP_SCRIPT, before the first id's keys. */
const DROP_FIXED_KEYS = 5;

/**
 * Lua: reading the head of an entry string (see layout.ts) whatever is stored there.
 * `head` reads just the head, whatever the size of the value; a key of another type (written
 * by something else) reads as an empty string, that is as absent, instead of failing the
 * script. `parse` gives the expiry digits and kind letter ('v', 'c' or 'z') of a well-formed head,
 * then its createdAt digits (nil in a head without times, written before getMeta; '' when
 * unknown) and the position of the kind letter; nothing for an empty string or one the store
 * did not write. `chunksGone` says whether a well-formed streamed head's chunk hash `ck` is
 * gone (evicted, deleted by hand): such an entry reads as absent.
 */
export const HEAD = `
local function head(e)
  local h = redis.pcall('GETRANGE', e, 0, ${HEAD_BYTES - 1})
  if type(h) ~= 'string' then return '' end
  return h
end
local function parse(s)
  local x, at, kind = string.match(s, '^(%d+)()([vcz])')
  if x then return x, kind, nil, at end
  local created
  x, created, at, kind = string.match(s, '^(%d+)%.(%d*)%.%d+()([vcz])')
  return x, kind, created, at
end
local function live(x, now)
  return x and (x == '0' or tonumber(x) > now)
end
local function chunksGone(h, ck)
  local _, kind, _, at = parse(h)
  return kind == 'c' and string.match(h, '^c[1-9]%d*:.', at) and redis.call('EXISTS', ck) == 0
end
`;

/**
 * Lua: takes a streamed value's chunk hash `ck` away from its entry without freeing it at once:
 * it is renamed to the grace key `gp .. <its generation>` with an expiry of `grace` ms, so a
 * read that already holds the old entry string (issued before this write or delete, SPEC §12)
 * can still read its bytes there (docs/redis.md, "Streams"). A hash whose generation is not
 * one the store writes (hex, at most 64 characters), or any other type, is just removed.
 */
const RETIRE = `
local function retire(ck, gp, grace)
  local g = redis.pcall('HGET', ck, 'g')
  if type(g) == 'string' and #g <= 64 and string.match(g, '^%x+$') then
    local o = gp .. g
    redis.call('RENAME', ck, o)
    redis.call('PEXPIRE', o, grace)
  else
    redis.call('UNLINK', ck)
  end
end
`;

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
 * Lua: an entry's tag records (layout.ts, tags.ts): the hash `tg` maps a tagged entry's id to
 * its tags' member prefixes, concatenated (each ends with two NULs); the zset `tz` holds one
 * member `<prefix><id>` per tag, scored 0. `untag` removes an entry's records whatever the
 * records hold (a key of another type is passed over, so a delete always gets through).
 * `wrongTags` runs before a write's first write: the reason the tag records cannot take it, or
 * nothing; it also learns, once per script, whether the namespace has tagged entries at all
 * (`tagged`), so that writes and deletes in a namespace without tags never look up an id's
 * tags. `retag` then replaces the entry's records with the prefixes ARGV[t1..t2] (none when
 * t2 < t1); `dropTags` is the delete's.
 */
const TAGS = `
local tagged, tagIndexChecked = nil, false
local function untag(tg, tz, id)
  local old = redis.pcall('HGET', tg, id)
  if type(old) ~= 'string' then return end
  for pfx in string.gmatch(old, '(.-%z%z)') do redis.pcall('ZREM', tz, pfx .. id) end
  redis.pcall('HDEL', tg, id)
end
local function wrongTags(tg, tz, adding)
  if tagged == nil then
    local t = redis.call('TYPE', tg).ok
    if t ~= 'hash' and t ~= 'none' then return 'the record ' .. tg .. ' is a ' .. t .. ', not a hash: clear() removes it' end
    tagged = t == 'hash'
  end
  if (tagged or adding) and not tagIndexChecked then
    local t = redis.call('TYPE', tz).ok
    if t ~= 'zset' and t ~= 'none' then return 'the record ' .. tz .. ' is a ' .. t .. ', not a zset: clear() removes it' end
    tagIndexChecked = true
  end
end
local function retag(tg, tz, id, t1, t2)
  if tagged then untag(tg, tz, id) end
  if t2 < t1 then return end
  tagged = true
  for i = t1, t2 do redis.call('ZADD', tz, 0, ARGV[i] .. id) end
  redis.call('HSET', tg, id, table.concat(ARGV, '', t1, t2))
end
local function dropTags(tg, tz, id)
  if tagged == nil then tagged = redis.call('EXISTS', tg) == 1 end
  if tagged then untag(tg, tz, id) end
end
`;

/**
 * Lua: the score and member of an ordered index record (ordered.ts) from its descriptor:
 * `n<score>` → the number, `<16-digit sequence><id>`; `s<encoded string>\0\0` → 0, the
 * string then the sequence and id; `r` → the sequence, the id.
 */
export const MEMBER = `
local function member(d, seq, id)
  local kind = string.sub(d, 1, 1)
  if kind == 'r' then return seq, id end
  local pad = string.format('%0${SEQ_DIGITS}d', seq)
  if kind == 'n' then return string.sub(d, 2), pad .. id end
  return 0, string.sub(d, 2) .. pad .. id
end
`;

/**
 * Lua: writes one entry with its order, expiry, index and tag records (equality indexes
 * KEYS[i1..i2], ordered ones KEYS[o1..o2] with their descriptors from ARGV[ad]),
 * all or nothing: every argument is checked before the first write (an expiry Redis could not
 * store, a missing stream), the counter and the index sets, the only records a stranger's
 * key of another type can block (the shared ones are checked once per script), are written
 * first and undone if one fails. Returns nothing on success, or the reason it wrote nothing.
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
const PUT = `${HEAD}${RECORDS}${RETIRE}${MEMBER}${TAGS}
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
  local old, oldKind, oldCreated = parse(h)
  local wasLive = live(old, now)
  if not wasLive then
    local seq = tonumber(reserved) or redis.pcall('INCR', c)
    if type(seq) ~= 'number' then return 'the counter ' .. c .. ' does not hold a number: clear() removes it' end
    for i = i1, i2 do
      if type(redis.pcall('ZADD', KEYS[i], seq, id)) ~= 'number' then
        for j = i1, i - 1 do redis.call('ZREM', KEYS[j], id) end
        return 'the index ' .. KEYS[i] .. ' is not a sorted set'
      end
    end
    -- An expired entry not yet swept still has its ordered members, built with its old sequence: they go.
    local prior = redis.pcall('ZSCORE', z, id)
    if type(prior) == 'string' then
      prior = tonumber(prior)
      for i = o1, o2 do
        local _, m = member(ARGV[ad + i - o1], prior, id)
        redis.pcall('ZREM', KEYS[i], m)
      end
    end
    for i = o1, o2 do
      local score, m = member(ARGV[ad + i - o1], seq, id)
      if type(redis.pcall('ZADD', KEYS[i], score, m)) ~= 'number' then
        for j = i1, i2 do redis.call('ZREM', KEYS[j], id) end
        for j = o1, i - 1 do
          local _, mj = member(ARGV[ad + j - o1], seq, id)
          redis.call('ZREM', KEYS[j], mj)
        end
        return 'the index ' .. KEYS[i] .. ' is not a sorted set'
      end
    end
    redis.call('ZADD', z, seq, id)
    for i = i1, i2 do redis.call('SADD', p, KEYS[i]) end
    for i = o1, o2 do redis.call('SADD', p, KEYS[i]) end
  end
  if tagged or tagging then retag(tg, tz, id, t1, t2) end
  local text, keepAt, created = payload, nil, nil
  if oldKind == 'c' then retire(ck, gp, grace) end
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
    -- An entry stored without expiry is never in the expiry set: overwriting one skips this.
    if old ~= '0' then redis.call('ZREM', xz, id) end
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
if failed then return redis.error_reply(failed) end
return 1
`);

/**
 * Writes several entries of one namespace in one round trip, in order (see PUT). Each entry
 * stands alone: one that cannot be written leaves nothing and the others are written.
 * KEYS: order, expiry, counter, registry, entry tags, tag records, then per entry: its entry
 * key, its chunk key, its equality index keys, its ordered index keys.
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
local ki, a, pos, failures = ${MANY_FIXED_KEYS + 1}, 5, 0, {}
while a <= #ARGV do
  local n, m, nt = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local reserved, t = false, a + 6
  if sequenced then reserved, t = ARGV[a + 6], a + 7 end
  local d = t + nt
  failed = put(KEYS[ki], KEYS[ki + 1], z, xz, c, p, tg, tz, ARGV[a], now, ARGV[a + 1], 'v', ARGV[a + 3], false, false, gp, grace, reserved,
    ki + 2, ki + 1 + n, ki + 2 + n, ki + 1 + n + m, d, t, d - 1)
  if failed then
    failures[#failures + 1] = pos
    failures[#failures + 1] = failed
  end
  ki = ki + 2 + n + m
  a = d + m
  pos = pos + 1
end
return failures
`);

/**
 * Removes entries with their chunks, order, expiry, index and tag records, whatever they hold:
 * records of another type are passed over, so a delete or clear() always gets through. The
 * chunks of a streamed value are retired to a grace key (see RETIRE), not freed at once.
 * KEYS: order, expiry, registry, entry tags, tag records, then per id: its entry key, its chunk
 * key, its equality index keys, its ordered index keys.
 * ARGV: now, mode, grace key prefix, grace (ms), '1' to return the ids removed, the number of
 * tag member prefixes, the prefixes, then per id: id, number of equality index keys, number of
 * ordered index keys, one descriptor per ordered key (their members are rebuilt with the
 * sequence the order set holds for the id).
 * Modes: 'd' (delete) removes every id. 'x' (the sweep) removes an id only if the expiry set
 * still says it has expired, so an entry written again since it was listed survives, and only
 * if its entry string (its head alone is read) is not live: a wrong expiry record is corrected
 * instead. 't' (deleteByTags, tags.ts) removes an id only if its own tag list in `tg` still
 * holds one of the prefixes, so an entry written again without them since it was listed
 * survives; the prefixes' records of every id given go in any case (a record written by
 * something else, pointing at an entry without the tag, cannot be listed forever).
 * Returns how many entries were removed that were there (delete and 't': live, or not an entry
 * the store wrote; a streamed one whose chunks are gone reads as absent) or expired (sweep);
 * with '1', a table: that count, then the ids removed.
 */
export const DROP_SCRIPT = new LuaScript(`${HEAD}${RETIRE}${MEMBER}${TAGS}
local z, xz, p, tg, tz = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, mode, gp, grace, report = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5] == '1'
local nt = tonumber(ARGV[6])
local wanted = {}
for j = 7, 6 + nt do wanted[ARGV[j]] = true end
local ki, counted, a, removed = ${DROP_FIXED_KEYS + 1}, 0, 7 + nt, {}
while a <= #ARGV do
  local id, n, m = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local e, ck = KEYS[ki], KEYS[ki + 1]
  local go, h = true, nil
  if mode == 'x' then
    local s = redis.pcall('ZSCORE', xz, id)
    go = type(s) == 'string' and tonumber(s) <= now
    -- An expiry record that is wrong (written by something else) never frees a live entry: it is mended.
    if go then
      h = head(e)
      local x = parse(h)
      if x and live(x, now) then
        go = false
        if x == '0' then redis.call('ZREM', xz, id) else redis.call('ZADD', xz, x, id) end
      end
    end
  elseif mode == 't' then
    go = false
    local list = redis.pcall('HGET', tg, id)
    if type(list) == 'string' then
      for pfx in string.gmatch(list, '(.-%z%z)') do
        if wanted[pfx] then go = true end
      end
    end
    for j = 7, 6 + nt do redis.pcall('ZREM', tz, ARGV[j] .. id) end
  end
  if go then
    h = h or head(e)
    if mode == 'x' then
      counted = counted + 1
    else
      local x, kind = parse(h)
      if h ~= '' and (not x or (live(x, now) and not (kind == 'c' and chunksGone(h, ck)))) then counted = counted + 1 end
    end
    if report then removed[#removed + 1] = id end
    if select(2, parse(h)) == 'c' then
      redis.call('UNLINK', e)
      retire(ck, gp, grace)
    else
      redis.call('UNLINK', e, ck)
    end
    local seq = redis.pcall('ZSCORE', z, id)
    if type(seq) == 'string' then
      seq = tonumber(seq)
      for j = 1, m do
        local k = KEYS[ki + 1 + n + j]
        local _, member_ = member(ARGV[a + 2 + j], seq, id)
        redis.pcall('ZREM', k, member_)
        if redis.call('EXISTS', k) == 0 then redis.pcall('SREM', p, k) end
      end
    end
    redis.pcall('ZREM', z, id)
    redis.pcall('ZREM', xz, id)
    for j = 2, n + 1 do
      local k = KEYS[ki + j]
      redis.pcall('ZREM', k, id)
      if redis.call('EXISTS', k) == 0 then redis.pcall('SREM', p, k) end
    end
    dropTags(tg, tz, id)
  end
  ki = ki + 2 + n + m
  a = a + 3 + m
end
if report then
  table.insert(removed, 1, counted)
  return removed
end
return counted
`);

/**
 * Sets a live entry's expiry, keeping its value and every record but the expiry's: the entry
 * string's head (rewritten in place by SETRANGE when the new expiry has as many digits as the
 * old, which is the usual case; else the string is written again), its native expiry and its
 * chunks', and its expiry record. Absent, expired by `now`, or a streamed value whose chunks
 * are gone: nothing is written.
 * KEYS: entry, chunk key, expiry. ARGV: id, now, expiresAt ('0' = none).
 * Returns 1 when it was set, 0 when the entry is not live, -1 when the string is no entry the
 * store wrote (nothing is written); an error reply for an expiry Redis could not store.
 */
export const TOUCH_SCRIPT = new LuaScript(`${HEAD}
local e, ck, xz = KEYS[1], KEYS[2], KEYS[3]
local id, now, exp = ARGV[1], tonumber(ARGV[2]), ARGV[3]
if exp ~= '0' and not (#exp <= 15 and string.match(exp, '^[1-9]%d*$')) then
  return redis.error_reply('the expiry ' .. exp .. ' is not a whole number of epoch ms from 1 to 999999999999999')
end
local h = head(e)
local x, kind = parse(h)
if h ~= '' and not x then return -1 end
if not live(x, now) or (kind == 'c' and chunksGone(h, ck)) then return 0 end
local t = redis.call('TYPE', xz).ok
if t ~= 'zset' and t ~= 'none' then return redis.error_reply('the record ' .. xz .. ' is a ' .. t .. ', not a zset: clear() removes it') end
if #x == #exp then
  redis.call('SETRANGE', e, 0, exp)
else
  redis.call('SET', e, exp .. string.sub(redis.call('GET', e), #x + 1))
end
if exp ~= '0' then
  redis.call('PEXPIREAT', e, exp)
  if kind == 'c' then redis.call('PEXPIREAT', ck, exp) end
  redis.call('ZADD', xz, exp, id)
else
  redis.call('PERSIST', e)
  if kind == 'c' then redis.call('PERSIST', ck) end
  redis.call('ZREM', xz, id)
end
return 1
`);
