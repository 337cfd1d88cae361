/**
 * getOrSet's `lock: 'cluster'` across real processes (SPEC §15, issue #13 item 3): child
 * processes (test/fixtures/lock-child.ts) on one real redis-server, computes counted with a
 * Redis INCR inside compute. A stampede of 4 × 250 calls computes once; a holder killed with
 * SIGKILL mid-compute is replaced by one waiter after the lock's lease; a holder slower than
 * its lease does not hold the waiters longer than that. Children exit by themselves; any still
 * running at the end is killed by its PID.
 */
import { expect } from 'chai';
import type { Settings as ChildSettings } from './fixtures/lock-child';
import { ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { startRedis, RedisServer } from './support/redis-server';
import { freshNamespace } from './support/store-configs';
import { lockKey } from '../lib/core/cluster-lock';

const FIXTURE = path.resolve(__dirname, 'fixtures', 'lock-child.ts');

interface Done {
  values: string[];
  codes: string[];
  ms: number;
}

/** A run's settings (the child adds the Redis URL). */
type RunSettings = Omit<ChildSettings, 'url'>;

/** One child (loaded once, reused by the tests): its PID, and its messages as promises. */
class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  readonly ready: Promise<unknown>;
  private readonly messages = new EventEmitter();

  constructor() {
    this.process = fork(FIXTURE, [], { execArgv: ['-r', 'ts-node/register/transpile-only'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.on('message', (message: { event: string }) => this.messages.emit(message.event, message));
    this.ready = this.next('ready');
  }

  get pid(): number {
    return this.process.pid!;
  }

  /** The child's next message `event`; rejects when it fails or exits first. Never left unhandled by itself. */
  next<T>(event: string): Promise<T> {
    const p = new Promise<T>((resolve, reject) => {
      this.messages.once(event, resolve);
      this.messages.once('failed', (m: { message: string }) => reject(new Error(`child ${this.pid}: ${m.message}`)));
      void this.exited.then(() => reject(new Error(`child ${this.pid} exited before '${event}'`)));
    });
    p.catch(() => undefined);
    return p;
  }

  /** Opens the run's store in the child. */
  async prepare(settings: RunSettings & { url: string }): Promise<void> {
    const prepared = this.next('prepared');
    this.process.send({ op: 'prepare', settings });
    await prepared;
  }

  /** Starts the calls; resolves the child's 'done'. (`computing` is read before, by next('computing').) */
  go(): Promise<Done> {
    const done = this.next<Done>('done');
    this.process.send({ op: 'go' });
    return done;
  }
}

describe("getOrSet lock: 'cluster' across processes", function () {
  this.timeout(180_000);
  let server: RedisServer;
  let redis: Redis;
  let pool: Child[] = [];

  /** Four loaded children (a killed one is replaced). */
  async function fourChildren(): Promise<Child[]> {
    pool = pool.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
    while (pool.length < 4) pool.push(new Child());
    await Promise.all(pool.map((c) => c.ready));
    return pool;
  }

  async function prepareAll(children: Child[], settings: RunSettings, computeMs: number[]): Promise<void> {
    await Promise.all(children.map((c, i) => c.prepare({ ...settings, computeMs: computeMs[i], url: server.url })));
  }

  before(async function () {
    server = await startRedis();
    redis = new Redis(server.url);
    await fourChildren();
  });
  after(async () => {
    // Children exit by themselves on 'exit'; one that has not within 10 s is killed by its PID.
    await Promise.all(
      pool.map(async (child) => {
        if (child.process.connected) child.process.send({ op: 'exit' });
        const timer = setTimeout(() => child.process.kill('SIGKILL'), 10_000);
        await child.exited;
        clearTimeout(timer);
      }),
    );
    redis?.disconnect();
    await server?.stop();
  });

  it('4 processes x 250 concurrent calls of one cold key: exactly one compute, one value everywhere', async () => {
    const namespace = freshNamespace('lock');
    const counter = `${namespace}:computes`;
    const group = await fourChildren();
    await prepareAll(group, { namespace, key: 'cold', counter, callers: 250, computeMs: 0, lockTimeout: 10_000 }, [300, 300, 300, 300]);
    const results = await Promise.all(group.map((c) => c.go()));
    expect(Number(await redis.get(counter))).to.equal(1);
    for (const result of results) {
      expect(result.codes).to.deep.equal([]);
      expect(result.values).to.have.length(1);
    }
    expect(new Set(results.map((r) => r.values[0])).size).to.equal(1);
    expect(await redis.exists(lockKey(namespace, 'cold'))).to.equal(0); // released, not left to expire
  });

  it('a holder killed mid-compute: one waiter computes after the lease, the others get its value', async () => {
    const namespace = freshNamespace('lock');
    const counter = `${namespace}:computes`;
    const lease = 1500;
    const [holder, ...waiters] = await fourChildren();
    await prepareAll([holder, ...waiters], { namespace, key: 'k', counter, callers: 50, computeMs: 0, lockTimeout: lease }, [600_000, 100, 100, 100]);
    const computing = holder.next('computing');
    void holder.go();
    await computing;
    const acquired = performance.now();
    expect(await redis.exists(lockKey(namespace, 'k'))).to.equal(1);
    const done = waiters.map((c) => c.go());
    await new Promise((r) => setTimeout(r, 200));
    process.kill(holder.pid, 'SIGKILL');
    await holder.exited;
    const results = await Promise.all(done);
    const waited = performance.now() - acquired;
    expect(Number(await redis.get(counter))).to.equal(2); // the dead holder's and one waiter's
    expect(waited).to.be.at.least(lease - 100); // nobody took over before the lease ran out
    for (const result of results) {
      expect(result.codes).to.deep.equal([]);
      expect(result.values).to.have.length(1);
      expect(result.ms).to.be.below(2 * lease + 2000); // bounded by the lease, not the dead holder
    }
    expect(new Set(results.map((r) => r.values[0])).size).to.equal(1);
  });

  it('a holder slower than its lease holds the waiters no longer than the lease', async () => {
    const namespace = freshNamespace('lock');
    const counter = `${namespace}:computes`;
    const lease = 800;
    const [holder, ...waiters] = await fourChildren();
    await prepareAll([holder, ...waiters], { namespace, key: 'k', counter, callers: 20, computeMs: 0, lockTimeout: lease }, [6000, 50, 50, 50]);
    const computing = holder.next('computing');
    const slow = holder.go();
    await computing;
    const results = await Promise.all(waiters.map((c) => c.go()));
    for (const result of results) {
      expect(result.codes).to.deep.equal([]);
      expect(result.ms).to.be.below(4000); // the holder takes 6 s
    }
    // The slow holder and the one waiter that took the expired lock; the others waited for that one.
    expect(Number(await redis.get(counter))).to.equal(2);
    expect(new Set(results.map((r) => r.values[0])).size).to.equal(1);
    expect((await slow).codes).to.deep.equal([]);
  });
});
