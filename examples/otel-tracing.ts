/**
 * Tracing memstorage-next calls as spans, through `node:diagnostics_channel` (no dependency):
 * `node -r ts-node/register/transpile-only examples/otel-tracing.ts`.
 *
 * Every operation has a TracingChannel named `memstorage-next:<method>` (getOne, get, getMany,
 * set, setMany, del, delMany, delKeys, delByTags, touch, has, ttl, count, keys, page, clear,
 * copy, setStream). Its subscribers get one context object per call — `{ method, store,
 * namespace, key | keys | query | items | tags }`, plus `result` or `error` once it settles —
 * on `start` (the call begins), `end` (it returned its promise), `error`, `asyncStart` and
 * `asyncEnd` (it settled). Nothing is traced, and nothing costs, while nobody subscribes.
 *
 * Below, a console "exporter" of twenty lines makes spans from those events. With OpenTelemetry
 * (`@opentelemetry/api`, and an SDK set up as usual) the same hookup is:
 *
 *   const tracer = trace.getTracer('memstorage-next');
 *   const spans = new WeakMap<object, Span>();
 *   for (const method of Store.TRACED_METHODS) tracingChannel(`${Store.CHANNEL_PREFIX}${method}`).subscribe({
 *     start: (c) => spans.set(c, tracer.startSpan(`memstorage ${c.method}`, { attributes: { 'db.system': 'memstorage-next', 'db.operation.name': c.method, 'db.namespace': c.namespace } })),
 *     error: (c) => { spans.get(c)?.recordException(c.error); spans.get(c)?.setStatus({ code: SpanStatusCode.ERROR }); },
 *     asyncEnd: (c) => spans.get(c)?.end(), end() {}, asyncStart() {},
 *   });
 *
 * (To make the store's own Redis or MongoDB commands children of the call's span, bind the
 * span to the context on `start`: `channel.start.bindStore(otelContextStorage, (c) => ...)`.)
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import Store = require('../index');

/** A finished span, as an exporter would send it. */
interface Span {
  name: string;
  durationMs: number;
  attributes: Record<string, unknown>;
  status: 'ok' | 'error';
  error?: string;
}

/** Starts a span on each call's `start` and ends it on `asyncEnd`; returns the unsubscriber. */
function traceToConsole(exportSpan: (span: Span) => void): () => void {
  const started = new WeakMap<object, number>();
  const unsubscribes = Store.TRACED_METHODS.map((method) => {
    const channel = tracingChannel<unknown, Store.TraceContext>(`${Store.CHANNEL_PREFIX}${method}`);
    const handlers = {
      start: (c: Store.TraceContext) => started.set(c, performance.now()),
      end: () => undefined,
      asyncStart: () => undefined,
      error: () => undefined, // the error is on the context at asyncEnd
      asyncEnd: (c: Store.TraceContext) => {
        const attributes: Record<string, unknown> = { 'db.system': 'memstorage-next', store: c.store, namespace: c.namespace };
        if (c.key !== undefined) attributes.key = c.key;
        if (c.query !== undefined) attributes.query = c.query;
        if (c.keys !== undefined) attributes.keys = c.keys.length;
        const failed = c.error !== undefined;
        exportSpan({
          name: `memstorage ${c.method}`,
          durationMs: performance.now() - (started.get(c) ?? performance.now()),
          attributes,
          status: failed ? 'error' : 'ok',
          ...(failed ? { error: (c.error as { code?: string }).code } : {}),
        });
      },
    };
    channel.subscribe(handlers);
    return () => channel.unsubscribe(handlers);
  });
  return () => unsubscribes.forEach((stop) => stop());
}

async function main(): Promise<void> {
  const stop = traceToConsole((span) =>
    console.log(`${span.name.padEnd(20)} ${span.durationMs.toFixed(3).padStart(7)} ms  ${span.status}${span.error ? ` ${span.error}` : ''}  ${JSON.stringify(span.attributes)}`),
  );
  const store = Store.createStore({ type: 'memory', settings: { namespace: 'app' } });
  await store.set({ user: 1 }, { name: 'Ann' }, { ttl: 60_000 });
  await store.getOne({ user: 1 });
  await store.getMany(['a', 'b']);
  await store.get({ user: { $gte: 1 } });
  await store.getOne({ $bad: 1 } as never).catch(() => undefined); // an error span: ERR_INVALID_KEY
  await store.del({ user: 1 });
  stop();
  await store.getOne('not traced: nobody subscribes now');
  await store.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
