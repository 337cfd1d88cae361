/**
 * The Lua scripts of the Redis store that delete and touch, and the Lua fragments the write
 * scripts share (set-scripts.ts has the ones that write entries, read-scripts.ts the ones that
 * read and maintain; lua-script.ts how they run). Each one touches the keys of a single
 * namespace, which share a hash slot (see layout.ts), so every script is atomic on a
 * standalone server and on a cluster alike. Every key a write script touches is passed in KEYS, as Redis Cluster
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
  local h = redis.pcall('GETRANGE', e, '0', '${HEAD_BYTES - 1}')
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
export const RETIRE = `
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
 * Lua: an entry's tag records (layout.ts, tags.ts): the hash `tg` maps a tagged entry's id to
 * its tags' member prefixes, concatenated (each ends with two NULs); the zset `tz` holds one
 * member `<prefix><id>` per tag, scored 0. `untag` removes an entry's records whatever the
 * records hold (a key of another type is passed over, so a delete always gets through).
 * `wrongTags` runs before a write's first write: the reason the tag records cannot take it, or
 * nothing; it also learns, once per script, whether the namespace has tagged entries at all
 * (`tagged`), so that writes and deletes in a namespace without tags never look up an id's
 * tags. `retag` then replaces the entry's records with the prefixes ARGV[t1..t2] (none when
 * t2 < t1), reading the old ones only for an id the order set lists (`listed`: one it does not
 * list has none); `dropTags` is the delete's.
 */
export const TAGS = `
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
local function retag(tg, tz, id, t1, t2, listed)
  if tagged and listed then untag(tg, tz, id) end
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
 * `n<score>` → the number, `<16-digit complemented sequence><id>` (each digit d written 9 − d,
 * that is 10^16 − 1 − sequence: 10^16 − 1 is no exact Lua number, the digits are), then the
 * layout-2 member `<16-digit sequence><id>`, which every removal takes away too;
 * `s<encoded string>\0\0` → 0, the string then the sequence and id; `r` → the sequence, the id.
 */
export const MEMBER = `
local FLIP = { ['0'] = '9', ['1'] = '8', ['2'] = '7', ['3'] = '6', ['4'] = '5', ['5'] = '4', ['6'] = '3', ['7'] = '2', ['8'] = '1', ['9'] = '0' }
local function member(d, seq, id)
  local kind = string.sub(d, 1, 1)
  if kind == 'r' then return seq, id end
  local pad = string.format('%0${SEQ_DIGITS}d', seq)
  if kind == 'n' then return string.sub(d, 2), (string.gsub(pad, '%d', FLIP)) .. id, pad .. id end
  return 0, string.sub(d, 2) .. pad .. id
end
`;

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
        local _, member_, legacy = member(ARGV[a + 2 + j], seq, id)
        if legacy then redis.pcall('ZREM', k, member_, legacy) else redis.pcall('ZREM', k, member_) end
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
