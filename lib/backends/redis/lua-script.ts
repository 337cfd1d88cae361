/**
 * How the Redis store runs its Lua scripts: by EVALSHA, loaded on every (re)connection, with an
 * EVAL fallback on NOSCRIPT. The scripts themselves are in set-scripts.ts (writes),
 * scripts.ts (deletes, touch) and read-scripts.ts (reads and maintenance).
 */
import './driver'; // first: a missing ioredis is a StoreConfigError naming it, not a bare MODULE_NOT_FOUND
import { createHash } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';

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

/**
 * Loads `scripts` (SCRIPT LOAD) on a server, or on every master of a cluster. Done on each
 * (re)connection, before the store's commands, so EVALSHA finds them and the NOSCRIPT fallback
 * (an EVAL sent later, which a newer command could overtake) stays a rare safety net, needed
 * only after a failover to a node that never saw them.
 */
export async function loadScripts(client: Redis | Cluster, scripts: readonly LuaScript[]): Promise<void> {
  const servers = client instanceof Cluster ? client.nodes('master') : [client];
  await Promise.all(servers.flatMap((server) => scripts.map((script) => server.script('LOAD', script.lua))));
}
