/**
 * The Lua scripts of the Redis store that read entries (FETCH, WALK, UNION, RANGE, TAGGED, META) or maintain
 * a namespace (RESCHEDULE, REINDEX, VERSION); the write scripts and the Lua fragments they share
 * are in set-scripts.ts and scripts.ts. Same rules: one namespace's keys (one hash slot) per script.
 */
import { LuaScript } from './lua-script';
import { DROP_SCRIPT, HEAD, MEMBER, TOUCH_SCRIPT } from './scripts';
import { SET_MANY_SCRIPT, SET_SCRIPT } from './set-scripts';

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
 * since it was listed) is passed over, and a record already there is left as it is; an `n`
 * record of layout 2 (`<sequence><id>`) is replaced by this layout's (`<complement><id>`).
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
      local k = KEYS[ki + j - 1]
      local score, member_, legacy = member(ARGV[a + 1 + j], seq, id)
      if legacy then redis.pcall('ZREM', k, legacy) end
      if type(redis.pcall('ZADD', k, score, member_)) == 'number' then redis.call('SADD', p, k) end
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
 * or when it has no entries (the record is then written); 0 when it must be rebuilt first; -1
 * when the namespace is sharded (its shard count record exists: it must be opened with its
 * `shards`, layout.ts), and then nothing is written.
 * KEYS: version record, order, shard count record. ARGV: current version.
 */
export const VERSION_SCRIPT = new LuaScript(`
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local v = redis.pcall('GET', KEYS[1])
if v == ARGV[1] then return 1 end
local n = redis.pcall('ZCARD', KEYS[2])
if type(n) == 'number' and n > 0 then return 0 end
redis.pcall('SET', KEYS[1], ARGV[1])
return 1
`);

/**
 * Plans and reads a range query (ranges.ts): counts each range's candidates (its members in
 * bounds plus the path's `r` set) and each equality constraint's index hits; when the narrowest
 * range gives fewer than every equality and at most `most`, returns its members and the `r`
 * set's ids with their sequences (one round trip), or, past `inline` members, only which
 * range and the size of its `r` set: the client then reads them with plain ZRANGEs, since
 * every member passed through Lua costs the server about as much again as the ZRANGE itself.
 * Else returns only 0 (the client walks an equality index instead).
 * KEYS: per range its ordered set and the path's `r` set, then each equality constraint's index keys.
 * ARGV: number of ranges, most, inline, per range kind ('n' | 's'), min, max, then per equality constraint its number of keys.
 * Returns 0, [the range's position (1-based), its members, r ids and scores flat], or
 * [the range's position, the size of its `r` set].
 */
export const RANGE_SCRIPT = new LuaScript(`
local ranges, most, inline = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local best, bestSize, bestRest = 0, math.huge, 0
for i = 1, ranges do
  local a, set, rest = 3 * i + 1, KEYS[2 * i - 1], KEYS[2 * i]
  local n
  if ARGV[a] == 'n' then n = redis.call('ZCOUNT', set, ARGV[a + 1], ARGV[a + 2]) else n = redis.call('ZLEXCOUNT', set, ARGV[a + 1], ARGV[a + 2]) end
  local r = redis.call('ZCARD', rest)
  if n + r < bestSize then best, bestSize, bestRest = i, n + r, r end
end
local k = 2 * ranges + 1
for c = 3 * ranges + 4, #ARGV do
  local hits = 0
  for j = 1, tonumber(ARGV[c]) do
    hits = hits + redis.call('ZCARD', KEYS[k])
    k = k + 1
  end
  if hits <= bestSize then return 0 end
end
if bestSize > most then return 0 end
if bestSize > inline then return { best, bestRest } end
local a, set = 3 * best + 1, KEYS[2 * best - 1]
local members
if ARGV[a] == 'n' then members = redis.call('ZRANGE', set, ARGV[a + 1], ARGV[a + 2], 'BYSCORE') else members = redis.call('ZRANGE', set, ARGV[a + 1], ARGV[a + 2], 'BYLEX') end
return { best, members, redis.call('ZRANGE', KEYS[2 * best], 0, -1, 'WITHSCORES') }
`);

/**
 * A page of a descending sort's walk down a path's `n` set (sorted.ts DescendingWalk): plain
 * `ZRANGE n <bound> -inf BYSCORE REV LIMIT <offset> <page>` reads from the cursor, without
 * scores (formatting them costs the server more than the read), each member's id (past its
 * 16-digit sequence) searched for the JSON text of the query's equality values (sorted.ts
 * needleTest: a key the query takes holds one of each group's texts), until `want` members
 * passed, the set ends, or `most` members were read (so one call holds the server for a
 * bounded time). Only the members that passed are returned (the client parses and tests
 * each), and, when `entries` > 0, the entry strings of the first `entries` of them (by one
 * MGET, as find.ts fetchValues reads them; 0 for none or another type), so no MGET follows. The
 * cursor (the value of the last member read, and how many members at that value were read)
 * comes from ZSCORE, ZCOUNT and ZREVRANK of the last member. With `page` 0 the first page is
 * sized from the sizes of the query's equality index sets (want × |n| / the fewest hits of a
 * constraint, each constraint's sets added up), and a constraint without hits ends the walk at
 * once (nothing can match). With `head` '1' the reply also carries the namespace's version
 * record and the sizes of the path's `s` and `r` sets.
 * KEYS: n set, version record, s set, r set, then each sized constraint's index sets.
 * ARGV: bound, offset, page, want, most, batch (largest page), entries, entry key prefix, head,
 * number of sized constraints, then each one's number of sets, then the number of needle
 * groups, then per group its number of texts and the texts.
 * Returns [version or nil, |s|, |r|, done (0 | 1), bound, offset, next page, passed count p,
 * then p members, then the entries read].
 */
export const TOP_SCRIPT = new LuaScript(`
local n = KEYS[1]
local bound, offset, page, want, most, batch = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local entries, prefix, sized = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[10])
local v, sc, rc = false, 0, 0
if ARGV[9] == '1' then
  v = redis.pcall('GET', KEYS[2])
  if type(v) ~= 'string' then v = false end
  sc, rc = redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4])
end
local a = 12 + sized
local needles = {}
for g = 1, tonumber(ARGV[11 + sized]) do
  local texts = {}
  for j = 1, tonumber(ARGV[a]) do texts[j] = ARGV[a + j] end
  needles[g] = texts
  a = a + 1 + #texts
end
local done = 0
if page == 0 then
  local fewest = math.huge
  local k = 5
  for c = 1, sized do
    local hits = 0
    for j = 1, tonumber(ARGV[10 + c]) do
      hits = hits + redis.call('ZCARD', KEYS[k])
      k = k + 1
    end
    if hits < fewest then fewest = hits end
  end
  if fewest == 0 then
    done = 1
  else
    page = math.min(batch, math.max(8, math.ceil(want * redis.call('ZCARD', n) / fewest * 1.15) + 4))
  end
end
local members, got, walked = {}, 0, 0
while done == 0 do
  local ids = redis.call('ZRANGE', n, bound, '-inf', 'BYSCORE', 'REV', 'LIMIT', offset, page)
  local count = #ids
  walked = walked + count
  for i = 1, count do
    local m = ids[i]
    local pass = true
    for g = 1, #needles do
      local texts, any = needles[g], false
      for j = 1, #texts do
        if string.find(m, texts[j], 17, true) then
          any = true
          break
        end
      end
      if not any then
        pass = false
        break
      end
    end
    if pass then
      got = got + 1
      members[got] = m
    end
  end
  if count < page then
    done = 1
  else
    local last = ids[count]
    bound = redis.call('ZSCORE', n, last)
    offset = redis.call('ZREVRANK', n, last) + 1 - redis.call('ZCOUNT', n, '(' .. bound, '+inf')
  end
  page = math.min(page * 2, batch)
  if got >= want or walked >= most then break end
end
local out = { v, sc, rc, done, bound, offset, page, got }
for i = 1, got do out[8 + i] = members[i] end
local e = math.min(entries, got)
if e > 0 then
  local names = {}
  for i = 1, e do names[i] = prefix .. string.sub(members[i], 17) end
  local read = redis.call('MGET', unpack(names))
  for i = 1, e do out[8 + got + i] = read[i] or 0 end
end
return out
`);

/**
 * Records or checks the shard count of a sharded namespace (shards.ts): the count it was
 * written with, or '1' when its unsharded layout holds entries; an empty namespace without a
 * record takes the caller's count (which is then returned).
 * KEYS: the shard count record and the order set of the namespace's home (unsharded) layout.
 * ARGV: the caller's shard count.
 */
export const SHARDS_SCRIPT = new LuaScript(`
local n = redis.pcall('ZCARD', KEYS[2])
if type(n) == 'number' and n > 0 then return '1' end
local h = redis.pcall('GET', KEYS[1])
if type(h) == 'string' then return h end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`);

/**
 * Lists the ids that carry any of the given tags (their tag records, layout.ts), each once, at
 * most `limit`: one BYLEX range of the tag records per tag.
 * KEYS: the tag records. ARGV: limit, then one member prefix per tag (tagPrefix).
 */
export const TAGGED_SCRIPT = new LuaScript(`
local tz, limit = KEYS[1], tonumber(ARGV[1])
local t = redis.call('TYPE', tz).ok
if t == 'none' then return {} end
if t ~= 'zset' then return redis.error_reply('the record ' .. tz .. ' is a ' .. t .. ', not a zset: clear() removes it') end
local out, seen = {}, {}
for i = 2, #ARGV do
  local p = ARGV[i]
  for _, m in ipairs(redis.call('ZRANGE', tz, '[' .. p, '(' .. p .. '\\255', 'BYLEX', 'LIMIT', 0, limit - #out)) do
    local id = string.sub(m, #p + 1)
    if not seen[id] then
      seen[id] = true
      out[#out + 1] = id
    end
  end
  if #out >= limit then break end
end
return out
`);

/**
 * Reads a batch of entries' metadata without their values (getMeta, meta.ts): per id, three
 * elements: the entry's head (see HEAD; 0 when absent, expired by `now`, a key of another
 * type, or a streamed value whose chunks are gone; a string the store did not write is passed
 * on as it is, for the client to report), the stored bytes of its value (the string's length
 * past the head, or a streamed value's chunks added up; -1 when its chunks are not a hash), and
 * its tags' member prefixes from the `g` hash ('' for none).
 * KEYS: the entry tags hash, then per id: its entry key, its chunk key. ARGV: now, then the ids.
 */
export const META_SCRIPT = new LuaScript(`${HEAD}
local tg, now = KEYS[1], tonumber(ARGV[1])
local out, n = {}, 0
for i = 2, #ARGV do
  local e, ck = KEYS[2 * i - 2], KEYS[2 * i - 1]
  local h = head(e)
  local x, kind, _, at = parse(h)
  local size, tags = 0, ''
  if h == '' or (x and not live(x, now)) or (kind == 'c' and chunksGone(h, ck)) then
    h = 0
  elseif kind == 'c' then
    local count = tonumber(string.match(h, '^c(%d+):', at)) or 0
    local fields = redis.pcall('HLEN', ck)
    if type(fields) ~= 'number' then
      size = -1
    else
      for j = 0, math.min(count, fields) - 1 do size = size + redis.call('HSTRLEN', ck, j) end
    end
  elseif x then
    size = redis.call('STRLEN', e) - at
  end
  if h ~= 0 then
    local t = redis.pcall('HGET', tg, ARGV[i])
    if type(t) == 'string' then tags = t end
  end
  out[n + 1], out[n + 2], out[n + 3] = h, size, tags
  n = n + 3
end
return out
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
  RANGE_SCRIPT,
  TOP_SCRIPT,
  SHARDS_SCRIPT,
  TOUCH_SCRIPT,
  TAGGED_SCRIPT,
  META_SCRIPT,
];

