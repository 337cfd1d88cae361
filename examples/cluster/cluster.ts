/**
 * A clustered app (node:cluster): two worker processes, each with a multi store
 * [memory, redis, mongo] and `invalidation: { redis }`, sharing one Redis and one MongoDB.
 * Worker 1 writes; worker 2 reads (the second read comes from its own memory tier), then sees
 * worker 1's overwrite and delete because the invalidation drops its in-process copy.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 MONGODB_URL='mongodb://127.0.0.1:27017/?directConnection=true' \
 *     node -r ts-node/register/transpile-only examples/cluster/cluster.ts
 *
 * Without Redis or MongoDB reachable it explains what it needs and exits (code 0).
 */
import cluster from 'node:cluster';
import { connect } from 'node:net';
import Store = require('../../index');

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MONGODB_URL = process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017/?directConnection=true';

/** Whether something accepts TCP connections at the host:port of `url`. */
function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url.replace(/^mongodb(\+srv)?:/, 'http:').replace(/^rediss?:/, 'http:'));
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) || 0 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

type Command = { op: 'set' | 'del' | 'read' | 'waitDrop' | 'quit'; key?: string; value?: unknown };

async function primary(): Promise<void> {
  const [redisUp, mongoUp] = await Promise.all([reachable(REDIS_URL), reachable(MONGODB_URL)]);
  if (!redisUp || !mongoUp) {
    console.log(
      [
        'This example runs two node:cluster workers sharing Redis and MongoDB, and needs both:',
        `  Redis   at ${REDIS_URL}: ${redisUp ? 'reachable' : 'NOT reachable'}`,
        `  MongoDB at ${MONGODB_URL}: ${mongoUp ? 'reachable' : 'NOT reachable'}`,
        'Start them (for example `redis-server --port 6379` and `mongod --dbpath /tmp/example-db --port 27017`),',
        'or point REDIS_URL / MONGODB_URL at running servers, then run this again.',
        '(The test suite needs neither: it starts throwaway servers on free ports by itself.)',
      ].join('\n'),
    );
    return;
  }
  cluster.setupPrimary({ execArgv: process.execArgv });
  const workers = [cluster.fork({ WORKER: '1' }), cluster.fork({ WORKER: '2' })];
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const ask = (w: (typeof workers)[number], command: Command) =>
    new Promise<unknown>((resolve) => {
      w.once('message', resolve);
      w.send(command);
    });
  const [writer, reader] = workers;
  await ask(writer, { op: 'set', key: 'greeting', value: { text: 'hello', version: 1 } });
  console.log('worker 2 reads:', await ask(reader, { op: 'read', key: 'greeting' }));
  console.log('worker 2 reads again:', await ask(reader, { op: 'read', key: 'greeting' }));
  const dropped = ask(reader, { op: 'waitDrop', key: 'greeting' });
  await ask(writer, { op: 'set', key: 'greeting', value: { text: 'hello again', version: 2 } });
  console.log('worker 2 dropped its copy:', await dropped);
  console.log('worker 2 reads after the overwrite:', await ask(reader, { op: 'read', key: 'greeting' }));
  const droppedAgain = ask(reader, { op: 'waitDrop', key: 'greeting' });
  await ask(writer, { op: 'del', key: 'greeting' });
  await droppedAgain;
  console.log('worker 2 reads after the delete:', await ask(reader, { op: 'read', key: 'greeting' }));
  await Promise.all(workers.map((w) => ask(w, { op: 'quit' })));
}

async function worker(): Promise<void> {
  const store = new Store.MultiStore({
    namespace: 'example-cluster',
    stores: [
      { type: 'memory', settings: { maxKeys: 10_000 }, ttl: 60_000 },
      { type: 'redis', settings: { url: REDIS_URL }, ttl: 600_000 },
      { type: 'mongo', settings: { url: MONGODB_URL, db: 'memstorage_example' } },
    ],
    invalidation: { redis: REDIS_URL },
  });
  store.on('error', (err: Error) => console.error(`worker ${process.env.WORKER}:`, err.message));
  await store.connect();
  process.send!('ready');
  process.on('message', async (command: Command) => {
    switch (command.op) {
      case 'set':
        await store.set(command.key!, command.value);
        return process.send!('ok');
      case 'del':
        return process.send!(await store.del(command.key!));
      case 'read': {
        const hit = await store.getWithSource(command.key!);
        return process.send!(hit ? { value: hit.value, servedBy: hit.name } : 'absent');
      }
      case 'waitDrop':
        store.once('invalidation', (info: { publishedAt: number; droppedAt: number }) =>
          process.send!(`after ${(info.droppedAt - info.publishedAt).toFixed(2)} ms`),
        );
        return;
      case 'quit':
        await store.close();
        process.send!('bye');
        return process.disconnect();
    }
  });
}

(cluster.isPrimary ? primary() : worker()).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
