/**
 * Judges the calls of the network fault test (test/support/netfault-child.ts logs them): per
 * phase, the calls that failed (and whether only with StoreError codes), the worst latency, the
 * reads that served a stale value and how stale; and, against what MongoDB holds at the end,
 * the writes lost.
 *
 * Each key has one writer whose calls on it never overlap, so its writes are totally ordered by
 * version. A read that started at `start` and ended at `end` may return the state of the last
 * write that resolved before `start`, or of any later write that had started before `end`;
 * anything older is stale, by `start` minus the end of the first resolved write that replaced
 * it. A bus message takes a moment to arrive: reads stale by at most `tolerance` are counted
 * apart, and a stale read is a coherence failure ('incoherent') when the reader had already
 * applied the invalidation of the write that replaced the value, or wrote the key itself.
 */
import type { CallRecord, InvalidationRecord } from './netfault-child';

/** What one process logged. */
export interface ProcessLog {
  calls: CallRecord[];
  invalidations: InvalidationRecord[];
  /** The keys it writes: [from, to). */
  own: [number, number];
  name: string;
}

/** A phase of the run: calls are assigned by their start time. */
export interface Phase {
  name: string;
  from: number;
}

/** Figures of one phase. */
export interface PhaseFigures {
  phase: string;
  calls: number;
  failed: number;
  /** Failures that were not StoreErrors (must be 0). */
  untyped: number;
  /** Error codes seen, with counts. */
  codes: Record<string, number>;
  worstMs: number;
  reads: number;
  stale: number;
  /** Reads that returned an older value by at most the tolerance (bus delivery in flight). */
  lagging: number;
  worstStaleMs: number;
  /**
   * Stale reads (any staleness) of a key whose replacing write's invalidation had already been
   * applied by the reading process, or of the reader's own key: a coherence failure, not a
   * message in flight.
   */
  incoherent: number;
  /** Reads of a version nobody wrote (must be 0). */
  phantom: number;
  /** The first few incoherent reads, described. */
  examples: string[];
}

interface Write {
  version: number;
  /** The state it leaves: its version, or 0 for a delete. */
  state: number;
  start: number;
  end: number;
  ok: boolean;
}

/** The writes of every key, in version order, from the logs of all processes. */
export function writesByKey(logs: CallRecord[][]): Map<number, Write[]> {
  const byKey = new Map<number, Write[]>();
  for (const log of logs) {
    for (const [op, k, start, end, wrote, , error] of log) {
      if (wrote < 0) continue;
      let list = byKey.get(k);
      if (!list) byKey.set(k, (list = []));
      list.push({ version: wrote, state: op === 'del' ? 0 : wrote, start, end, ok: error === '' });
    }
  }
  for (const list of byKey.values()) list.sort((a, b) => a.version - b.version);
  return byKey;
}

/** How stale a read is in ms (0 when it is not), or NaN for a version never written. */
export function staleness(writes: Write[] | undefined, start: number, end: number, read: number): number {
  return staleRead(writes, start, end, read).ms;
}

/** How stale a read is, and the write that replaced what it returned. */
export function staleRead(writes: Write[] | undefined, start: number, end: number, read: number): { ms: number; replacedBy?: Write } {
  const list = writes ?? [];
  if (read > 0 && !list.some((w) => w.version === read && w.state === read)) return { ms: NaN };
  let last = -1; // index of the last write resolved before the read started
  for (let i = 0; i < list.length; i++) if (list[i].ok && list[i].end < start) last = i;
  const lastState = last < 0 ? 0 : list[last].state;
  if (read === lastState) return { ms: 0 };
  for (let i = last + 1; i < list.length && list[i].start < end; i++) if (list[i].state === read) return { ms: 0 };
  // Stale: replaced by the first resolved write after the state it returned.
  let from = -1; // index of the write whose state was read (-1: the initial absence)
  for (let i = last; i >= 0; i--) {
    if (list[i].state === read) {
      from = i;
      break;
    }
  }
  for (let i = from + 1; i <= last; i++) if (list[i].ok) return { ms: start - list[i].end, replacedBy: list[i] };
  return { ms: 0 };
}

/** The figures of every phase. */
export function judge(processes: ProcessLog[], phases: Phase[], tolerance: number): PhaseFigures[] {
  const writes = writesByKey(processes.map((p) => p.calls));
  const figures = phases.map(
    (p): PhaseFigures => ({
      phase: p.name, calls: 0, failed: 0, untyped: 0, codes: {}, worstMs: 0, reads: 0, stale: 0, lagging: 0, worstStaleMs: 0, incoherent: 0, phantom: 0, examples: [],
    }),
  );
  for (const proc of processes) {
    // This process's applied invalidations by key (-1: all keys).
    const applied = new Map<number, InvalidationRecord[]>();
    for (const record of proc.invalidations) {
      let list = applied.get(record[0]);
      if (!list) applied.set(record[0], (list = []));
      list.push(record);
    }
    const invalidatedBefore = (k: number, replacedBy: Write, at: number) =>
      [...(applied.get(k) ?? []), ...(applied.get(-1) ?? [])].some(([, published, dropped]) => published >= replacedBy.start && dropped < at);
    for (const [op, k, start, end, , read, error] of proc.calls) {
      let p = phases.length - 1;
      while (p > 0 && start < phases[p].from) p--;
      const f = figures[p];
      f.calls++;
      f.worstMs = Math.max(f.worstMs, end - start);
      if (error !== '') {
        f.failed++;
        if (error.startsWith('!')) f.untyped++;
        f.codes[error] = (f.codes[error] ?? 0) + 1;
        continue;
      }
      if (read < 0) continue;
      f.reads++;
      const { ms, replacedBy } = staleRead(writes.get(k), start, end, read);
      if (Number.isNaN(ms)) {
        f.phantom++;
        continue;
      }
      if (ms > 0 && replacedBy && ((k >= proc.own[0] && k < proc.own[1]) || invalidatedBefore(k, replacedBy, start))) {
        f.incoherent++;
        if (f.examples.length < 3) {
          const drop = [...(applied.get(k) ?? []), ...(applied.get(-1) ?? [])].find(([, published, dropped]) => published >= replacedBy.start && dropped < start);
          f.examples.push(
            `${proc.name} ${op === 'gos' ? 'getOrSet' : 'getOne'} of k${k} read ${read === 0 ? 'absent' : `v${read}`} at +${(start - phases[0].from).toFixed(0)} ms (took ${(end - start).toFixed(0)} ms); ` +
              `replaced by v${replacedBy.version}${replacedBy.state === 0 ? ' (del)' : ''} resolved ${(start - replacedBy.end).toFixed(0)} ms before` +
              (drop ? `, its invalidation applied ${(start - drop[2]).toFixed(0)} ms before${drop[0] < 0 ? ' (drop of everything)' : ''}` : ', own key'),
          );
        }
      }
      if (ms > tolerance) {
        f.stale++;
        f.worstStaleMs = Math.max(f.worstStaleMs, ms);
      } else if (ms > 0) f.lagging++;
    }
  }
  return figures;
}

/**
 * Writes lost: keys whose state in MongoDB (`stored`: version, or 0 when absent) is neither
 * the last resolved write's nor that of a failed write after it (which may or may not have landed).
 */
export function writesLost(logs: CallRecord[][], stored: Map<number, number>): { lost: number; keys: number[]; resolvedWrites: number } {
  const writes = writesByKey(logs);
  const keys: number[] = [];
  let resolvedWrites = 0;
  for (const [k, list] of writes) {
    let last = -1;
    for (let i = 0; i < list.length; i++) {
      if (list[i].ok) {
        last = i;
        resolvedWrites++;
      }
    }
    const allowed = new Set<number>([last < 0 ? 0 : list[last].state]);
    for (let i = last + 1; i < list.length; i++) allowed.add(list[i].state);
    if (!allowed.has(stored.get(k) ?? 0)) keys.push(k);
  }
  return { lost: keys.length, keys, resolvedWrites };
}

/** The figures as a markdown table. */
export function figuresTable(figures: PhaseFigures[]): string {
  const rows = figures.map((f) => [
    f.phase,
    String(f.calls),
    `${f.failed}${f.failed ? ` (${Object.entries(f.codes).map(([c, n]) => `${c} ${n}`).join(', ')})` : ''}`,
    f.worstMs.toFixed(0),
    String(f.reads),
    String(f.stale),
    f.stale ? f.worstStaleMs.toFixed(0) : '—',
    String(f.lagging),
    String(f.incoherent),
  ]);
  const header = [
    'phase', 'calls', 'failed (codes)', 'worst ms', 'reads', 'stale reads', 'worst staleness ms', 'behind by ≤ tolerance', 'stale after the invalidation arrived',
  ];
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
