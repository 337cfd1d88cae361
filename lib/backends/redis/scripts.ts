/**
 * The Lua scripts of the Redis store. Each one touches the keys of a single namespace, which
 * share a hash slot (see layout.ts), so every script is atomic on a standalone server and
 * on a cluster alike. Every key a write script touches is passed in KEYS, as Redis Cluster
 * asks; the read-only WALK derives entry keys from a prefix, in the same slot.
 *
 * Index key names are computed in JavaScript only (RedisLayout.indexesOf): they are a pure
 * function of the entry's id, so deleting or expiring an entry never needs to read the entry,
 * and no Lua code has to re-implement the index tokens.
 */
import './driver'; // first: a missing ioredis is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { createHash } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { SEQ_DIGITS } from './ordered';

/**
 * Sends one command and resolves its reply: a client's `call`, or a connection's batch sender
 * (RedisConnection.batchCommand), which may bypass the auto-pipeline.
 */
export type SendCommand = (name: string, args: Array<string | number>) => Promise<unknown>;

/** A Lua script run by EVALSHA, loaded with EVAL on NOSCRIPT (after a server restart or failover). */
export class LuaScript {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs the script; every key it touches must be in `keys`, the first decides the slot. */
  run(send: SendCommand, keys: string[], args: Array<string | number>): Promise<unknown> {
    const command = [this.sha, keys.length, ...keys, ...args];
    return send('evalsha', command).catch((err: Error) => {
      if (typeof err?.message === 'string' && err.message.startsWith('NOSCRIPT')) {
        command[0] = this.lua;
        return send('eval', command);
      }
      throw err;
    });
  }
}

/** Fixed KEYS of SET_SCRIPT, before the index keys. */
export const WRITE_FIXED_KEYS = 7;

/**
 * Lua: reading the head of an entry string (see layout.ts) whatever is stored there.
 * `head` reads just the head, whatever the size of the value; a key of another type (written
 * by something else) reads as an empty string, that is as absent, instead of failing the
 * script. `parse` gives the expiry digits and kind letter ('v' or 'c') of a well-formed head,
 * or nothing for an empty string or one the store did not write. `chunksGone` says whether a
 * well-formed streamed head's chunk hash `ck` is gone (evicted, deleted by hand): such an
 * entry reads as absent.
 */
const HEAD = `
local function head(e)
  local h = redis.pcall('GETRANGE', e, 0, 40)
  if type(h) ~= 'string' then return '' end
  return h
end
local function parse(s)
  return string.match(s, '^(%d+)([vc])')
end
local function live(x, now)
  return x and (x == '0' or tonumber(x) > now)
end
local function chunksGone(h, ck)
  return string.match(h, '^%d+c[1-9]%d*:.') and redis.call('EXISTS', ck) == 0
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
 * Lua: the score and member of an ordered index record (ordered.ts) from its descriptor:
 * `n<score>` → the number, `<16-digit sequence><id>`; `s<encoded string>\0\0` → 0, the
 * string then the sequence and id; `r` → the sequence, the id.
 */
const MEMBER = `
local function member(d, seq, id)
  local kind = string.sub(d, 1, 1)
  if kind == 'r' then return seq, id end
  local pad = string.format('%0${SEQ_DIGITS}d', seq)
  if kind == 'n' then return string.sub(d, 2), pad .. id end
  return 0, string.sub(d, 2) .. pad .. id
end
`;

/**
 * Lua: writes one entry with its order, expiry and index records (equality indexes KEYS[i1..i2],
 * ordered ones KEYS[o1..o2] with their descriptors from ARGV[ad]) (indexes are KEYS[i1..i2]),
 * all or nothing: every argument is checked before the first write (an expiry Redis could not
 * store, a missing stream), the counter and the index sets, the only records a stranger's
 * key of another type can block (the shared ones are checked once per script), are written
 * first and undone if one fails. Returns nothing on success, or the reason it wrote nothing.
 * An id that is absent, or present but expired by the caller's clock, is a new entry: it gets
 * the next creation sequence (in the order set and in every index), or `reserved` when the
 * caller took one from the counter when its call started (setStream). Overwriting a live entry
 * keeps its position. mode 'v' stores `payload`, the whole entry string built by the caller
 * (`<expiry>v<value text>`); mode 'c' renames the chunks hash `tmp` onto the entry's chunk key
 * `ck` and stores `<expiry>c<payload chunk count>:<gen>`. A value written over a streamed one
 * retires the old chunks to a grace key (see RETIRE: prefix `gp`, `grace` ms). The entry
 * string and its chunks expire natively at `exp`. A key of another type at the entry's name
 * is overwritten.
 */
const PUT = `${HEAD}${RECORDS}${RETIRE}${MEMBER}
local function put(e, ck, z, xz, c, p, id, now, exp, mode, payload, gen, tmp, gp, grace, reserved, i1, i2, o1, o2, ad)
  if exp ~= '0' and not (#exp <= 15 and string.match(exp, '^[1-9]%d*$')) then
    return 'the expiry ' .. exp .. ' is not a whole number of epoch ms from 1 to 999999999999999'
  end
  if mode ~= 'v' and redis.call('EXISTS', tmp) == 0 then return 'the streamed chunks ' .. tmp .. ' are gone' end
  local h = head(e)
  local old = parse(h)
  if not live(old, now) then
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
  local text = payload
  if string.match(h, '^%d+c') then retire(ck, gp, grace) end
  if mode ~= 'v' then
    redis.call('RENAME', tmp, ck)
    redis.call('HSET', ck, 'g', gen)
    text = exp .. 'c' .. payload .. ':' .. gen
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
end
`;

/**
 * Writes one entry (see PUT); a write that cannot be made fails with an error reply and leaves nothing.
 * KEYS: entry, chunk key, order, expiry, counter, registry, temp (mode c; else the entry again),
 * equality index keys, ordered index keys.
 * ARGV: id, now, expiresAt ('0' = none), mode, entry string (mode v) | chunk count (mode c),
 * generation (mode c; else ''), grace key prefix, grace (ms), a creation sequence reserved when
 * the call started (mode c; else ''), the number of equality index keys, then one descriptor
 * per ordered index key (ordered.ts).
 */
export const SET_SCRIPT = new LuaScript(`${PUT}
local n = tonumber(ARGV[10])
local failed = wrongRecord(KEYS[3], KEYS[4], KEYS[6])
  or put(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6], KEYS[7], ARGV[7], ARGV[8], ARGV[9],
    ${WRITE_FIXED_KEYS + 1}, ${WRITE_FIXED_KEYS} + n, ${WRITE_FIXED_KEYS + 1} + n, #KEYS, 11)
if failed then return redis.error_reply(failed) end
return 1
`);

/**
 * Writes several entries of one namespace in one round trip, in order (see PUT). Each entry
 * stands alone: one that cannot be written leaves nothing and the others are written.
 * KEYS: order, expiry, counter, registry, then per entry: its entry key, its chunk key, its
 * equality index keys, its ordered index keys.
 * ARGV: now, grace key prefix, grace (ms), then per entry: id, expiresAt ('0' = none), number of
 * equality index keys, entry string, number of ordered index keys, one descriptor per ordered key.
 * Returns the entries that failed, as [position (0-based), reason, ...]: empty when all were written.
 */
export const SET_MANY_SCRIPT = new LuaScript(`${PUT}
local z, xz, c, p = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local failed = wrongRecord(z, xz, p)
if failed then return redis.error_reply(failed) end
local now, gp, grace = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local ki, a, pos, failures = 5, 4, 0, {}
while a <= #ARGV do
  local n, m = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 4])
  failed = put(KEYS[ki], KEYS[ki + 1], z, xz, c, p, ARGV[a], now, ARGV[a + 1], 'v', ARGV[a + 3], false, false, gp, grace, false,
    ki + 2, ki + 1 + n, ki + 2 + n, ki + 1 + n + m, a + 5)
  if failed then
    failures[#failures + 1] = pos
    failures[#failures + 1] = failed
  end
  ki = ki + 2 + n + m
  a = a + 5 + m
  pos = pos + 1
end
return failures
`);

/**
 * Removes entries with their chunks, order, expiry and index records, whatever they hold:
 * records of another type are passed over, so a delete or clear() always gets through. The
 * chunks of a streamed value are retired to a grace key (see RETIRE), not freed at once.
 * KEYS: order, expiry, registry, then per id: its entry key, its chunk key, its equality index
 * keys, its ordered index keys.
 * ARGV: now, onlyExpired ('1' | '0'), grace key prefix, grace (ms), then per id: id, number of
 * equality index keys, number of ordered index keys, one descriptor per ordered key (their
 * members are rebuilt with the sequence the order set holds for the id).
 * With onlyExpired (the sweep), an id is removed only if the expiry set still says it has
 * expired, so an entry written again since it was listed survives, and only if its entry
 * string (its head alone is read) is not live: a wrong expiry record is corrected instead. Returns how many entries
 * were removed that were there (delete: live, or not an entry the store wrote; a streamed one
 * whose chunks are gone reads as absent) or expired (sweep).
 */
export const DROP_SCRIPT = new LuaScript(`${HEAD}${RETIRE}${MEMBER}
local z, xz, p = KEYS[1], KEYS[2], KEYS[3]
local now, onlyExpired, gp, grace = tonumber(ARGV[1]), ARGV[2] == '1', ARGV[3], ARGV[4]
local ki, counted, a = 4, 0, 5
while a <= #ARGV do
  local id, n, m = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local e, ck = KEYS[ki], KEYS[ki + 1]
  local go, h = true, nil
  if onlyExpired then
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
  end
  if go then
    h = h or head(e)
    if onlyExpired then
      counted = counted + 1
    else
      local x, kind = parse(h)
      if h ~= '' and (not x or (live(x, now) and not (kind == 'c' and chunksGone(h, ck)))) then counted = counted + 1 end
    end
    if string.match(h, '^%d+c') then
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
  end
  ki = ki + 2 + n + m
  a = a + 3 + m
end
return counted
`);

/**
 * Lua: appends one entry to a reply as one element: the entry string when the entry is live by
 * `now` (whole with `want`, else just its head), or the integer 0 when absent, expired, a key
 * of another type, or a streamed value whose chunks are gone (its chunk key is `cp` followed by
 * `id`, or by `e` past its first `skip` characters; the client reads such an entry as absent
 * too). A string the store did not write is passed on
 * as it is: the client reports it as corrupt. No Lua string is built for a value, since
 * copying large strings in Lua costs the server more than the client saves.
 */
const EMIT = `${HEAD}
local function emit(out, n, e, now, want, cp, id, skip)
  local s
  if want then
    s = redis.pcall('GET', e)
    if type(s) ~= 'string' then s = '' end
  else
    s = head(e)
  end
  local x, kind = parse(s)
  if s == '' or (x and not live(x, now)) or (kind == 'c' and chunksGone(s, cp .. (id or string.sub(e, skip + 1)))) then s = 0 end
  out[n + 1] = s
  return n + 1
end
`;

/**
 * Reads a batch of entries: one element per key (see EMIT).
 * KEYS: entry keys. ARGV: now, wantValues ('1' | '0'), length of the entry key prefix, chunk key prefix.
 */
export const FETCH_SCRIPT = new LuaScript(`${EMIT}
local now, want, skip, chunkPrefix = tonumber(ARGV[1]), ARGV[2] == '1', tonumber(ARGV[3]), ARGV[4]
local out, n = {}, 0
for i = 1, #KEYS do
  n = emit(out, n, KEYS[i], now, want, chunkPrefix, false, skip)
end
return out
`);

/**
 * Walks one sorted set of ids (the order set or one index) from a score cursor and reads the
 * entries in the same round trip, for selections every member of the set matches.
 * KEYS: the sorted set. ARGV: cursor (ZRANGE BYSCORE min, e.g. '-inf' or '(42'), limit, now,
 * wantValues ('1' | '0'), entry key prefix, chunk key prefix (entry and chunk keys share the set's slot).
 * Returns [members walked, last score, then id and entry (see EMIT) per member].
 */
export const WALK_SCRIPT = new LuaScript(`${EMIT}
local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], '+inf', 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]), 'WITHSCORES')
local now, want, prefix, chunkPrefix = tonumber(ARGV[3]), ARGV[4] == '1', ARGV[5], ARGV[6]
local out, n = { #ids / 2, ids[#ids] or '' }, 2
for i = 1, #ids, 2 do
  out[n + 1] = ids[i]
  n = emit(out, n + 1, prefix .. ids[i], now, want, chunkPrefix, ids[i], 0)
end
return out
`);

/**
 * Merges many sorted sets (the index sets of a long `$in`) into a temporary one on the server,
 * with a lease, so the client walks one set in batches instead of reading every set at once.
 * The sets are merged a thousand at a time: Lua's unpack() cannot spread many more.
 * KEYS: the temporary set, then the sets to merge. ARGV: lease (ms).
 * Returns the size of the merged set (0: nothing was created).
 */
export const UNION_SCRIPT = new LuaScript(`
local tmp, n = KEYS[1], 0
for i = 2, #KEYS, 1000 do
  local last = math.min(i + 999, #KEYS)
  local args = { tmp, 0 }
  if i > 2 then args[#args + 1] = tmp end
  for j = i, last do args[#args + 1] = KEYS[j] end
  args[2] = #args - 2
  -- An id in several sets has the same score (its creation sequence) in each: keep it, not the sum.
  args[#args + 1] = 'AGGREGATE'
  args[#args + 1] = 'MIN'
  n = redis.call('ZUNIONSTORE', unpack(args))
end
if n > 0 then redis.call('PEXPIRE', tmp, ARGV[1]) end
return n
`);

/**
 * Sets a namespace's score in the list of namespaces to sweep after a visit, unless someone
 * lowered it since the visitor's claim (see due-namespaces.ts).
 * KEYS: the list. ARGV: namespace, claim score, next score.
 */
export const RESCHEDULE_SCRIPT = new LuaScript(`
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) == tonumber(ARGV[2]) then redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
return 1
`);

/**
 * Adds the ordered index records of entries already in the order set (the rebuild of a
 * namespace written by an older layout, ordered.ts): an id no longer in the order set (deleted
 * since it was listed) is passed over, and a record already there is left as it is.
 * KEYS: order, registry, then per id: its ordered index keys.
 * ARGV: per id: id, number of ordered index keys, one descriptor per key.
 * Returns how many ids were indexed.
 */
export const REINDEX_SCRIPT = new LuaScript(`${MEMBER}
local z, p = KEYS[1], KEYS[2]
local ki, a, done = 3, 1, 0
while a <= #ARGV do
  local id, m = ARGV[a], tonumber(ARGV[a + 1])
  local seq = redis.pcall('ZSCORE', z, id)
  if type(seq) == 'string' then
    seq = tonumber(seq)
    for j = 1, m do
      local score, member_ = member(ARGV[a + 1 + j], seq, id)
      if type(redis.pcall('ZADD', KEYS[ki + j - 1], score, member_)) == 'number' then redis.call('SADD', p, KEYS[ki + j - 1]) end
    end
    done = done + 1
  end
  ki = ki + m
  a = a + 2 + m
end
return done
`);

/**
 * Whether a namespace's records follow the current layout: 1 when its version record says so,
 * or when it has no entries (the record is then written); 0 when it must be rebuilt first.
 * KEYS: version record, order. ARGV: current version.
 */
export const VERSION_SCRIPT = new LuaScript(`
local v = redis.pcall('GET', KEYS[1])
if v == ARGV[1] then return 1 end
local n = redis.pcall('ZCARD', KEYS[2])
if type(n) == 'number' and n > 0 then return 0 end
redis.pcall('SET', KEYS[1], ARGV[1])
return 1
`);

/**
 * Walks an `n` ordered index (ordered.ts) downwards a page at a time: values from the top,
 * each value's members in creation order (their sequence prefix orders them), so a sort with a
 * small limit reads only the members it needs, not the whole group of its last value.
 * KEYS: the set. ARGV: the bound below which the next value is looked for ('+inf' or '(<v>'),
 * the value being read ('' for none: take the next), how many of its members were read, how many to read.
 * Returns [member, value, member, value, ...], the value being read ('' when finished with it), its offset, the bound, 1 when exhausted.
 */
export const DESCEND_SCRIPT = new LuaScript(`
local set, max, value, offset, count = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out, n = {}, 0
while n < count do
  if value == '' then
    local top = redis.call('ZRANGE', set, max, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1, 'WITHSCORES')
    if #top == 0 then return { out, '', 0, max, 1 } end
    value, offset, max = top[2], 0, '(' .. top[2]
  end
  local group = redis.call('ZRANGE', set, value, value, 'BYSCORE', 'LIMIT', offset, count - n)
  for _, m in ipairs(group) do
    out[#out + 1] = m
    out[#out + 1] = value
  end
  n = n + #group
  if #group < count - (n - #group) then value = '' else offset = offset + #group end
end
return { out, value, offset, max, 0 }
`);

/** Every script, for loading them when a connection becomes ready. */
export const ALL_SCRIPTS: readonly LuaScript[] = [
  SET_SCRIPT,
  SET_MANY_SCRIPT,
  DROP_SCRIPT,
  FETCH_SCRIPT,
  WALK_SCRIPT,
  UNION_SCRIPT,
  RESCHEDULE_SCRIPT,
  REINDEX_SCRIPT,
  VERSION_SCRIPT,
  DESCEND_SCRIPT,
];

/**
 * Loads every script (SCRIPT LOAD) on a server, or on every master of a cluster. Done on each
 * (re)connection, before the store's commands, so EVALSHA finds them and the NOSCRIPT fallback
 * (an EVAL sent later, which a newer command could overtake) stays a rare safety net, needed
 * only after a failover to a node that never saw them.
 */
export async function loadScripts(client: Redis | Cluster): Promise<void> {
  const servers = client instanceof Cluster ? client.nodes('master') : [client];
  await Promise.all(servers.flatMap((server) => ALL_SCRIPTS.map((script) => server.script('LOAD', script.lua))));
}
