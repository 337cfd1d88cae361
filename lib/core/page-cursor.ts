/**
 * Keyset paging (SPEC §14): `page()` orders the matches by the sort fields and then by key id,
 * a total order no write can shift, and its cursor is the position of the last item returned:
 * its sort keys and id. The next page starts strictly after that position, so an entry written
 * or deleted meanwhile never makes another one repeat or go missing. The cursor names its sort:
 * it is refused with a different one.
 */
import type { PagePosition } from '../backend';
import { InvalidArgumentError } from '../errors';
import { MAX_KEY_DEPTH, MAX_KEY_LENGTH } from '../limits';
import { compareValues } from '../query-match';
import { EMPTY_ARRAY_KEY, SortSpec, compareKeyLists, isEmptyArrayKey } from '../query-sort';

/** Longest cursor accepted: a key's sort keys fit in its size limit, base64 adds a third, with room for the sort's paths. */
const MAX_CURSOR_LENGTH = 4 * MAX_KEY_LENGTH;

export type { PagePosition };

/**
 * Orders two positions: sort fields first, then the key id in code point order (UTF-8 byte
 * order, as MongoDB and SQLite order strings; JavaScript's `<` compares UTF-16 code units, which
 * puts U+FFFF after characters beyond the BMP).
 */
export function comparePositions(a: PagePosition, b: PagePosition, sort: SortSpec): number {
  return compareKeyLists(a.keys, b.keys, sort) || compareValues(a.id, b.id);
}

/** The cursor of `position` under `sort` (an opaque base64url string). */
export function encodeCursor(position: PagePosition, sort: SortSpec): string {
  const body = {
    s: sort.map((f) => [f.path, f.direction]),
    // An empty array's sort key is not JSON: each key is [0] for it, or [1, value].
    k: position.keys.map((k) => (isEmptyArrayKey(k) ? [0] : [1, k])),
    i: position.id,
  };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** The position a cursor names; ERR_INVALID_ARGUMENT when it is not one this sort made. */
export function decodeCursor(cursor: string, sort: SortSpec): PagePosition {
  // A cursor holds sort keys taken from keys, so it is bounded as they are (lib/limits.ts).
  if (cursor.length > MAX_CURSOR_LENGTH) throw badCursor();
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (body === null || typeof body !== 'object') throw badCursor();
  const { s, k, i } = body as { s?: unknown; k?: unknown; i?: unknown };
  if (typeof i !== 'string' || !Array.isArray(s) || !Array.isArray(k) || k.length !== sort.length) throw badCursor();
  const sameSort = s.length === sort.length && sort.every((f, n) => Array.isArray(s[n]) && s[n][0] === f.path && s[n][1] === f.direction);
  if (!sameSort) throw new InvalidArgumentError('page: the cursor was made with another sort; pass the sort of the first page');
  const keys = k.map((entry: unknown) => {
    if (!Array.isArray(entry) || (entry[0] === 0 ? entry.length !== 1 : entry[0] !== 1 || entry.length !== 2)) throw badCursor();
    if (depthOf(entry[1], 0) > MAX_KEY_DEPTH) throw badCursor();
    return entry[0] === 0 ? EMPTY_ARRAY_KEY : entry[1];
  });
  return { keys, id: i };
}

/** How deep a JSON value nests (stops counting past the limit). */
function depthOf(value: unknown, depth: number): number {
  if (depth > MAX_KEY_DEPTH || value === null || typeof value !== 'object') return depth;
  let deepest = depth + 1;
  for (const v of Object.values(value)) deepest = Math.max(deepest, depthOf(v, depth + 1));
  return deepest;
}

function badCursor(): InvalidArgumentError {
  return new InvalidArgumentError('page: cursor must be the string a previous page returned');
}
