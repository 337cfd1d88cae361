/**
 * A short tour of memstorage-next on the memory store (no server needed): `npm run demo`.
 *
 * 1. legacy memstorage code: the default export, result-first callbacks;
 * 2. promises through createStore;
 * 3. object keys and queries: get and del({ age: 20 });
 * 4. TTLs with setex;
 * 5. includeKey;
 * 6. a read stream;
 * 7. a scope.
 * Every store is closed at the end, so the process exits by itself.
 */
import Store = require('../index');

function section(title: string): void {
  console.log(`\n== ${title}`);
}

/** 1. Code written for memstorage 0.5.3 runs unchanged: the factory, connect(cb(ok)), cb(result). */
function legacyCallbacks(): Promise<void> {
  section('1. legacy callbacks (the default export, result-first)');
  const store = Store({ type: 'memory' });
  return new Promise((resolve) => {
    store.connect(function (ok: boolean) {
      console.log('connect ->', ok); // true
      store.set('x', 21, function () {
        store.get('x', function (values: unknown) {
          console.log("get('x') ->", values); // [ 21 ]: every match, as an array
          store.get('nothing', function (miss: unknown) {
            console.log("get('nothing') ->", miss); // []
            store.close(() => resolve());
          });
        });
      });
    });
  });
}

/** 2. The same store with promises and node-style defaults. */
async function promises(): Promise<void> {
  section('2. promises (createStore)');
  const store = Store.createStore({ type: 'memory' });
  await store.set('greeting', { text: 'hello', at: new Date('2024-01-01T00:00:00Z') });
  console.log("getOne('greeting') ->", await store.getOne('greeting')); // the value itself (Date stays a Date)
  console.log("has('greeting') ->", await store.has('greeting'));
  console.log("getOne('missing') ->", await store.getOne('missing')); // undefined
  await store.close();
}

/** 3. Object keys are identities (field order does not matter); an object given to get/del is a query. */
async function objectKeysAndQueries(): Promise<void> {
  section('3. object keys and queries');
  const people = Store.createStore();
  await people.set({ name: 'Ada', age: 20, city: 'Oslo' }, { role: 'admin' });
  await people.set({ name: 'Bob', age: 20, city: 'Lima' }, { role: 'user' });
  await people.set({ name: 'Cyd', age: 35, city: 'Oslo' }, { role: 'user' });
  await people.set({ city: 'Oslo', age: 20, name: 'Ada' }, { role: 'owner' }); // same key as Ada's: overwrites

  console.log('get({ age: 20 }) ->', await people.get({ age: 20 })); // Ada's and Bob's values, in creation order
  console.log("get({ city: 'Oslo', age: { $gte: 30 } }) ->", await people.get({ city: 'Oslo', age: { $gte: 30 } }));
  console.log("count({ city: 'Oslo' }) ->", await people.count({ city: 'Oslo' }));
  console.log('del({ age: 20 }) ->', await people.del({ age: 20 }), 'deleted'); // removes every match, nothing else
  console.log('keys() ->', await people.keys());
  try {
    await people.get({ $where: 'this.age > 1' }); // code in a query is refused
  } catch (err) {
    console.log('get({ $where }) ->', (err as InstanceType<typeof Store.StoreError>).code);
  }
  await people.close();
}

/** 4. TTLs: setex takes seconds (ttl() answers in ms); time comes from an injectable clock, so no waiting here. */
async function ttls(): Promise<void> {
  section('4. TTL with setex');
  const clock = new Store.ManualClock();
  const sessions = Store.createStore({ settings: { clock } });
  await sessions.setex('session:42', { user: 'ada' }, 30);
  console.log("ttl('session:42') ->", await sessions.ttl('session:42'), 'ms');
  clock.advance(31_000); // 31 seconds later
  console.log("getOne('session:42') after 31 s ->", await sessions.getOne('session:42')); // expired: undefined
  await sessions.close();
}

/** 5. includeKey: results carry their keys, as memstorage's `{ key, val }`. */
async function includeKey(): Promise<void> {
  section('5. includeKey');
  const store = Store.createStore({ settings: { includeKey: true } });
  await store.set({ sku: 'A-1', color: 'red' }, { price: 10 });
  await store.set({ sku: 'B-2', color: 'red' }, { price: 12 });
  console.log("get({ color: 'red' }) ->", JSON.stringify(await store.get({ color: 'red' })));
  await store.close();
}

/** 6. Results as an object-mode stream (backpressure respected; pipeline() works). */
async function readStream(): Promise<void> {
  section('6. a read stream');
  const store = Store.createStore();
  for (let i = 1; i <= 3; i++) await store.set({ kind: 'task', n: i }, `task number ${i}`);
  await store.set({ kind: 'note', n: 1 }, 'not a task');
  for await (const { key, value } of store.createReadStream({ kind: 'task' })) {
    console.log('stream ->', JSON.stringify(key), value);
  }
  await store.close();
}

/** 7. A scope is an isolated namespace over the same store: clear() there clears only it. */
async function scopes(): Promise<void> {
  section('7. a scope');
  const store = Store.createStore();
  const tenantA = store.scope('tenant-a');
  const tenantB = store.scope('tenant-b');
  await tenantA.set('config', { theme: 'dark' });
  await tenantB.set('config', { theme: 'light' });
  console.log("tenant-a getOne('config') ->", await tenantA.getOne('config'));
  await tenantA.clear();
  console.log("after tenant-a clear(): tenant-a ->", await tenantA.getOne('config'), ', tenant-b ->', await tenantB.getOne('config'));
  console.log("root getOne('config') ->", await store.getOne('config')); // the root namespace is separate too
  await Promise.all([tenantA.close(), tenantB.close(), store.close()]);
}

/** 8. tags, touch and an entry's metadata (SPEC §15, §16). */
async function tagsAndMetadata(): Promise<void> {
  section('8. tags, touch and getMeta');
  const clock = new Store.ManualClock(Date.UTC(2026, 11, 2));
  const store = Store.createStore({ settings: { clock } });
  await store.set('product:1', { name: 'lamp' }, { ttl: 60_000, tags: ['products', 'sale'] });
  await store.set('product:2', { name: 'desk' }, { tags: ['products'] });
  clock.advance(1_000);
  await store.touch('product:1', 120_000); // a new TTL, value and tags kept
  const meta = await store.getMeta('product:1');
  const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : ms);
  console.log("getMeta('product:1') ->", { ...meta, createdAt: iso(meta?.createdAt), updatedAt: iso(meta?.updatedAt), expiresAt: iso(meta?.expiresAt) });
  console.log("delByTags(['sale']) ->", await store.delByTags(['sale']), 'deleted; keys() ->', await store.keys());
  await store.close();
}

async function main(): Promise<void> {
  await legacyCallbacks();
  await promises();
  await objectKeysAndQueries();
  await ttls();
  await includeKey();
  await readStream();
  await scopes();
  await tagsAndMetadata();
  console.log('\ndone: every store is closed, so the process exits by itself.');
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
