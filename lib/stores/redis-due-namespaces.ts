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
 *   skip it meanwhile), sweeps it, then sets the score to the namespace's next expiry, or to
 *   IDLE_RECHECK_MS from now when nothing is left to expire, but only if nobody lowered the
 *   score since its claim (RESCHEDULE_SCRIPT);
 * - namespaces are never removed, so the list holds one member per namespace that ever had a
 *   TTL'd entry.
 */
import { RESCHEDULE_SCRIPT, SendCommand } from './redis-scripts';

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

export class DueNamespaces {
  /** What this process last noted per namespace, so a burst of TTL'd writes sends one note. */
  private readonly noted = new Map<string, { due: number; at: number }>();

  constructor(readonly key: string) {}

  /**
   * After a write of TTL'd entries: makes sure the namespace is swept by `due` at the latest.
   * Resolves without sending anything when this process noted an earlier or equal expiry less
   * than NOTE_AGAIN_MS ago.
   */
  note(send: SendCommand, namespace: string, due: number): Promise<unknown> {
    const now = Date.now();
    const last = this.noted.get(namespace);
    if (last && last.due <= due && now - last.at < NOTE_AGAIN_MS) return Promise.resolve();
    this.noted.set(namespace, { due, at: now });
    return send('zadd', [this.key, 'LT', due, namespace]).catch((err: unknown) => {
      this.noted.delete(namespace);
      throw err;
    });
  }

  /** Visits up to VISITS_PER_TICK namespaces whose score is due by `now`; resolves the entries freed. */
  async visit(send: SendCommand, now: number, sweeperFor: (namespace: string) => NamespaceSweeper): Promise<number> {
    const due = (await send('zrange', [this.key, '-inf', now, 'BYSCORE', 'LIMIT', 0, VISITS_PER_TICK])) as string[];
    let freed = 0;
    for (const namespace of due) {
      const claim = now + CLAIM_MS;
      await send('zadd', [this.key, 'XX', 'GT', claim, namespace]);
      const sweeper = sweeperFor(namespace);
      freed += await sweeper.sweep();
      const next = (await sweeper.nextDue()) ?? now + IDLE_RECHECK_MS;
      await RESCHEDULE_SCRIPT.run(send, [this.key], [namespace, claim, next]);
    }
    return freed;
  }
}

