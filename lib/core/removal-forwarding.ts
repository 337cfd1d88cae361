/**
 * A layered store's 'expire' / 'evict' events (SPEC §15): the stores below it report them
 * (each only while listened to), and it passes them on as its own — listening to them only
 * while its own store wants them (Backend.removalsWanted), so nobody pays for unheard events.
 */
import type { BackendEvents } from '../backend';
import type { BaseStore } from '../store';

/** A store below, and what its events add to the payload (the multi store's tier). */
export interface RemovalSource {
  store: BaseStore;
  extra?: Record<string, unknown>;
}

/** See the file comment. One per layered backend. */
export class RemovalForwarding {
  private readonly detach = new Map<'expire' | 'evict', Array<() => void>>();

  constructor(
    private readonly events: BackendEvents,
    private readonly sources: () => readonly RemovalSource[],
  ) {}

  /** Starts or stops forwarding each event (Backend.removalsWanted). */
  want(expire: boolean, evict: boolean): void {
    this.set('expire', expire);
    this.set('evict', evict);
  }

  private set(event: 'expire' | 'evict', on: boolean): void {
    const offs = this.detach.get(event);
    if (on === (offs !== undefined)) return;
    if (!on) {
      for (const off of offs!) off();
      this.detach.delete(event);
      return;
    }
    const events = this.events;
    this.detach.set(
      event,
      this.sources().map(({ store, extra }) => {
        const pass = (e: { key?: unknown }) => events.emit(event, { key: e?.key, ...extra });
        store.on(event, pass);
        return () => store.off(event, pass);
      }),
    );
  }
}
