/**
 * The namespaces that hold records of TTL'd entries (`<prefix>{!due}`, a sorted set of
 * namespace names scored by when each should next be swept), so that expired entries' records
 * are freed even in a namespace that no process has open any more (SPEC §6: an index that
 * grows forever is a defect). A process sweeps the namespaces it has open on its own timer;
 * on the same timer it also visits a few due namespaces from this list, whoever wrote them.
 *
 * The list lives in its own slot, apart from the namespaces, so on a cluster nothing here can
 * be atomic with a namespace's records. The protocol is built so that a race only delays a
 * sweep, by at most IDLE_RECHECK_MS, and never drops a namespace from the list:
 * - a write of TTL'd entries lowers the namespace's score to their expiry (`ZADD LT`), which
 *   also adds a namespace that is not listed yet;
 * - a visitor first claims the namespace by raising its score (`ZADD XX GT`, so other processes
 *   skip it meanwhile), sweeps it, then sets the score to the namespace's next expiry, but at
 *   most IDLE_RECHECK_MS from now, and only if nobody lowered the score since its claim
 *   (RESCHEDULE_SCRIPT); the cap bounds the delay when a write lands between the visitor's
 *   reading of the next expiry and its rescheduling;
 * - a note that fails (say the list's master is unreachable while the namespace's is not) is
 *   kept and sent again on the next tick;
 * - namespaces are never removed, so the list holds one member per namespace that ever had a
 *   TTL'd entry.
 */
import { RESCHEDULE_SCRIPT } from './read-scripts';
import { SendCommand } from './lua-script';

/** What a visit needs of a namespace. */
export interface NamespaceSweeper {
  /** Frees the records of the namespace's expired entries; resolves how many. */
  sweep(): Promise<number>;
  /** The earliest expiry still recorded in the namespace, if any. */
  nextDue(): Promise<number | undefined>;
}

/** How many due namespaces one timer tick visits, one after the other. */
const VISITS_PER_TICK = 16;
/** While a process sweeps a namespace, other processes skip it for this long (ms). */
const CLAIM_MS = 60_000;
/** A namespace with nothing left to expire is looked at again after this long (ms). */
export const IDLE_RECHECK_MS = 60 * 60 * 1000;
/** A process notes a namespace again at most this often (ms), unless an earlier expiry comes. */
const NOTE_AGAIN_MS = 60_000;
/** Most namespaces remembered as noted; past this the memory is dropped (a scope per user). */
const MAX_NOTED = 10_000;

/** The due-namespace list of one prefix, and what this process noted in it. */
export class DueNamespaces {
  /** What this process last noted per namespace, so a burst of TTL'd writes sends one note. */
  private readonly noted = new Map<string, { due: number; at: number }>();
  /** Notes that failed, by namespace (the earliest expiry), sent again before each visit. */
  private readonly unsent = new Map<string, number>();

  constructor(readonly key: string) {}

  /**
   * After a write of TTL'd entries: makes sure the namespace is swept by `due` at the latest.
   * Sends nothing when this process noted an earlier or equal expiry that is still ahead
   * (`now`, on the stores' clock) less than NOTE_AGAIN_MS ago: until that expiry no visit can
   * have raised the score past it. A failed note is kept for the next visit, and rejects.
   */
  note(send: SendCommand, namespace: string, due: number, now: number): Promise<unknown> {
    const at = Date.now();
    const last = this.noted.get(namespace);
    if (last && last.due <= due && last.due > now && at - last.at < NOTE_AGAIN_MS) return Promise.resolve();
    if (this.noted.size >= MAX_NOTED) this.noted.clear(); // a cache: forgetting only costs a note
    this.noted.set(namespace, { due, at });
    return send('zadd', [this.key, 'LT', due, namespace]).catch((err: unknown) => {
      this.noted.delete(namespace);
      this.unsent.set(namespace, Math.min(due, this.unsent.get(namespace) ?? Infinity));
      throw err;
    });
  }

  /**
   * Sends the failed notes again, then visits up to VISITS_PER_TICK namespaces whose score is
   * due by `now`; resolves the entries freed.
   */
  async visit(send: SendCommand, now: number, sweeperFor: (namespace: string) => NamespaceSweeper): Promise<number> {
    for (const [namespace, due] of [...this.unsent]) {
      await send('zadd', [this.key, 'LT', due, namespace]);
      if (this.unsent.get(namespace) === due) this.unsent.delete(namespace);
    }
    const due = (await send('zrange', [this.key, '-inf', now, 'BYSCORE', 'LIMIT', 0, VISITS_PER_TICK])) as string[];
    let freed = 0;
    for (const namespace of due) {
      const claim = now + CLAIM_MS;
      await send('zadd', [this.key, 'XX', 'GT', claim, namespace]);
      const sweeper = sweeperFor(namespace);
      freed += await sweeper.sweep();
      const next = Math.min((await sweeper.nextDue()) ?? Infinity, now + IDLE_RECHECK_MS);
      await RESCHEDULE_SCRIPT.run(send, [this.key], [namespace, claim, next]);
    }
    return freed;
  }
}
