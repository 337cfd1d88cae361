/**
 * MongoDB's regular expressions (PCRE) as JavaScript RegExps: the differences that change a
 * match (`$` before a final newline, `.` and `^`/`$` with only `\n` as a line break, PCRE's
 * subject anchors, the `x` option) are translated, and what PCRE refuses is refused here too,
 * so a pattern behaves the same on every backend (lib/query-match.ts runs it; the Mongo
 * backend sends the original to the server).
 */

/**
 * PCRE's subject anchors, which JavaScript lacks (without Unicode mode it would read `\\A` as a
 * plain "A" and match something else); `\\b` and `\\B` mean the same in both.
 */
const PCRE_ESCAPED_ANCHORS: Record<string, string | undefined> = {
  __proto__: null as never,
  A: '(?<![\\s\\S])',
  z: '(?![\\s\\S])',
  Z: '(?=\\n?(?![\\s\\S]))',
  b: '\\b',
  B: '\\B',
};

/**
 * PCRE refuses a quantifier after an anchor ("quantifier does not follow a repeatable item");
 * the lookaheads `$` becomes here would accept one, so a pattern MongoDB refuses would run on
 * the other stores. Refusing it here makes it ERR_INVALID_QUERY on every backend.
 */
function refuseQuantifiedAnchor(pattern: string, next: number): void {
  const c = pattern[next];
  if (c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(next, next + 24)))) {
    throw new SyntaxError(`Invalid regular expression: /${pattern}/: quantifier does not follow a repeatable item`);
  }
}

/**
 * A JavaScript RegExp that matches as MongoDB's PCRE does for the same source and options: `$`
 * also matches before a final newline, `.` stops only at `\n`, `^`/`$` in multiline mode
 * break lines only at `\n`, `x` drops whitespace and comments, and patterns are Unicode-aware.
 */
export function toMongoRegExp(source: string | RegExp, options?: string): RegExp {
  const pattern = typeof source === 'string' ? source : source.source;
  const flags = options ?? (typeof source === 'string' ? '' : source.flags);
  const multiline = flags.includes('m');
  const dotAll = flags.includes('s');
  const extended = flags.includes('x');
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) {
      const escaped = pattern[++i];
      const anchor = inClass ? undefined : PCRE_ESCAPED_ANCHORS[escaped];
      if (anchor !== undefined) {
        refuseQuantifiedAnchor(pattern, i + 1);
        out += anchor;
      } else out += c + escaped;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (extended && /\s/.test(c)) continue;
    if (extended && c === '#') {
      while (i + 1 < pattern.length && pattern[i + 1] !== '\n') i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (pattern[i + 1] === '^') out += pattern[++i];
      if (pattern[i + 1] === ']') out += '\\' + pattern[++i]; // a leading ] is literal in PCRE
      continue;
    }
    if (c === '$' || c === '^') refuseQuantifiedAnchor(pattern, i + 1);
    if (c === '$') out += multiline ? '(?=\\n|(?![\\s\\S]))' : '(?=\\n?(?![\\s\\S]))';
    else if (c === '^' && multiline) out += '(?:(?<![\\s\\S])|(?<=\\n)(?=[\\s\\S]))'; // not after a final newline (PCRE)
    else if (c === '.' && !dotAll) out += '[^\\n]';
    else out += c;
  }
  const jsFlags = (flags.includes('i') ? 'i' : '') + (dotAll ? 's' : '');
  try {
    return new RegExp(out, jsFlags + 'u');
  } catch {
    return new RegExp(out, jsFlags); // a pattern valid only without Unicode mode (e.g. `\-`)
  }
}
