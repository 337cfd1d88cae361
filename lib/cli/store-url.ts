/**
 * Store URLs (docs/cli.md) mapped to the factory's `{ type, settings }`:
 *
 *     memory:
 *     redis://[user:pass@]host:port[/db][?prefix=…&namespace=…&shards=…]      (rediss:// too)
 *     redis-cluster://[user:pass@]host:port[,host:port…][?prefix=…&namespace=…&shards=…]
 *     mongodb://host:port/db[?collection=…&namespace=…&<driver options>]   (mongodb+srv:// too)
 *     sqlite:./file.db[?namespace=…&table=…]                          (sqlite:///abs/path.db too)
 *
 * and, only where entries are read (`copy --from`, `export`), a memstorage 0.5.3 collection:
 *
 *     memstorage-0.5.3+mongodb://host:port/db?collection=…[&<driver options>]
 *
 * A URL that does not parse, or a parameter the type does not take, is a CliError (BAD_URL)
 * naming what is wrong; the store itself then checks the settings (ERR_STORE_CONFIG, BAD_URL too).
 */
import type { StoreOptions } from '../factory';
import { CliError, ExitCodes } from './exit-codes';

/** The URL forms, for messages and help. */
export const STORE_URL_HELP = `Stores are named by URL:
  memory:                                   a fresh in-process store (empty at start)
  redis://host:port[/db][?prefix=P&namespace=N&shards=S]
  redis-cluster://host:port[,host:port…][?prefix=P&namespace=N&shards=S]   (a Redis Cluster: its startup nodes)
  mongodb://host:port/db[?collection=C&namespace=N]   (other parameters go to the driver)
  sqlite:./file.db[?namespace=N&table=T]
  memstorage-0.5.3+mongodb://host:port/db?collection=C   (copy --from and export only: a memstorage 0.5.3 collection)`;

/** The scheme prefix naming a collection written by memstorage 0.5.3. */
export const LEGACY_SCHEME_PREFIX = 'memstorage-0.5.3+';

/** What a URL that entries are read from names: a store, or a memstorage 0.5.3 collection. */
export type SourceSpec =
  | { kind: 'store'; options: StoreOptions }
  | {
      kind: 'memstorage-0.5.3';
      /** The driver's connection string (mongodb://…/db[?driver options]). */
      url: string;
      collectionName: string;
    };

function badUrl(url: string, why: string): CliError {
  return new CliError(ExitCodes.BAD_URL, `bad store URL ${JSON.stringify(url)}: ${why}\n${STORE_URL_HELP}`);
}

/** Takes the parameters `allowed` out of `params` into settings (renamed by `allowed`); any other one is refused unless `passOthers`. */
function takeParams(url: string, params: URLSearchParams, allowed: Record<string, string>, passOthers: boolean): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of new Set(params.keys())) {
    const setting = Object.prototype.hasOwnProperty.call(allowed, name) ? allowed[name] : undefined;
    if (setting === undefined) {
      if (passOthers) continue;
      throw badUrl(url, `unknown parameter ${JSON.stringify(name)} (allowed: ${Object.keys(allowed).join(', ')})`);
    }
    const values = params.getAll(name);
    if (values.length > 1) throw badUrl(url, `parameter ${name} is given ${values.length} times`);
    if (values[0] === '') throw badUrl(url, `parameter ${name} is empty`);
    settings[setting] = values[0];
    params.delete(name);
  }
  return settings;
}

function parseWhatwg(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw badUrl(url, 'not a URL');
  }
}

/** The Redis parameters: a namespace written with `shards` > 1 is opened only with its own count (RedisSettings.shards). */
const REDIS_PARAMS = { prefix: 'prefix', namespace: 'namespace', shards: 'shards' };

/** The Redis settings of the parameters: `shards` as a number (its range is the store's to check). */
function redisSettings(url: string, params: URLSearchParams): Record<string, string | number> {
  const { shards, ...settings } = takeParams(url, params, REDIS_PARAMS, false);
  if (shards === undefined) return settings;
  if (!/^\d+$/.test(shards)) throw badUrl(url, `shards must be a whole number, not ${JSON.stringify(shards)}`);
  return { ...settings, shards: Number(shards) };
}

/** A percent-encoded user or password, decoded. */
function decoded(url: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw badUrl(url, 'a user or password is not percent-encoded right');
  }
}

/**
 * The startup nodes of a `redis-cluster://` URL, host:port each, and its user and password.
 * Split by hand: the WHATWG parser reads one host, not a list.
 */
function clusterSettings(url: string): Record<string, unknown> {
  const q = url.indexOf('?');
  const base = url.slice('redis-cluster://'.length, q < 0 ? undefined : q);
  const at = base.lastIndexOf('@');
  const hosts = (at < 0 ? base : base.slice(at + 1)).replace(/\/$/, '');
  if (hosts.includes('/')) throw badUrl(url, 'a cluster has no database number: nothing may follow the nodes but ?parameters');
  const nodes = hosts.split(',');
  for (const node of nodes) {
    if (!/^(\[[0-9a-f:.]+\]|[^:[\]]+):\d{1,5}$/i.test(node)) throw badUrl(url, node === '' ? 'no node' : `node ${JSON.stringify(node)} is not host:port`);
  }
  // As { host, port }: an IPv6 host ([::1]:7000) has colons a 'host:port' string cannot carry.
  const cluster = nodes.map((node) => {
    const colon = node.lastIndexOf(':');
    return { host: node.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port: Number(node.slice(colon + 1)) };
  });
  const settings: Record<string, unknown> = { cluster };
  if (at >= 0) {
    const credentials = base.slice(0, at);
    const colon = credentials.indexOf(':');
    const user = decoded(url, colon < 0 ? credentials : credentials.slice(0, colon));
    if (user !== '') settings.username = user;
    if (colon >= 0) settings.password = decoded(url, credentials.slice(colon + 1));
  }
  return { ...settings, ...redisSettings(url, new URLSearchParams(q < 0 ? '' : url.slice(q + 1))) };
}

/** The factory options a store URL names. */
export function parseStoreUrl(url: string): StoreOptions {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'memory': {
      if (url.length > 'memory:'.length) throw badUrl(url, 'memory: takes nothing after the colon');
      return { type: 'memory' };
    }
    case 'redis':
    case 'rediss': {
      const parsed = parseWhatwg(url);
      if (!parsed.hostname) throw badUrl(url, 'no host');
      if (parsed.pathname !== '' && parsed.pathname !== '/' && !/^\/\d+$/.test(parsed.pathname)) throw badUrl(url, 'the path must be a database number, like /0');
      const settings = redisSettings(url, parsed.searchParams);
      parsed.search = '';
      return { type: 'redis', settings: { ...settings, url: parsed.toString() } };
    }
    case 'redis-cluster':
      return { type: 'redis', settings: clusterSettings(url) };
    case 'mongodb':
    case 'mongodb+srv': {
      // The WHATWG parser cannot read a seed list (h1:1,h2:2): split the query off by hand.
      const q = url.indexOf('?');
      const base = q < 0 ? url : url.slice(0, q);
      const params = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
      if (!/^mongodb(\+srv)?:\/\/[^/]+/.test(base)) throw badUrl(url, 'no host');
      const settings = takeParams(url, params, { collection: 'collectionName', namespace: 'namespace' }, true);
      const rest = params.toString();
      return { type: 'mongo', settings: { ...settings, url: rest ? `${base}?${rest}` : base } };
    }
    case 'sqlite': {
      const q = url.indexOf('?');
      let path = url.slice('sqlite:'.length, q < 0 ? undefined : q);
      if (path.startsWith('//')) path = path.slice(2);
      if (path === '') throw badUrl(url, 'no file path (sqlite:./file.db)');
      const settings = takeParams(url, new URLSearchParams(q < 0 ? '' : url.slice(q + 1)), { namespace: 'namespace', table: 'table' }, false);
      return { type: 'sqlite', settings: { ...settings, path } };
    }
    default:
      throw badUrl(url, scheme ? `unknown scheme ${scheme}:` : 'no scheme');
  }
}

/** What a URL read from (`copy --from`, `export`) names: a store URL, or `memstorage-0.5.3+mongodb://…`. */
export function parseSourceUrl(url: string): SourceSpec {
  if (!url.toLowerCase().startsWith(LEGACY_SCHEME_PREFIX)) return { kind: 'store', options: parseStoreUrl(url) };
  const inner = url.slice(LEGACY_SCHEME_PREFIX.length);
  if (!/^mongodb(\+srv)?:/i.test(inner)) throw badUrl(url, `${LEGACY_SCHEME_PREFIX} is followed by a mongodb:// URL`);
  const options = parseStoreUrl(inner);
  const settings = options.settings as { url: string; collectionName?: string; namespace?: string };
  if (settings.namespace !== undefined) throw badUrl(url, 'memstorage 0.5.3 had no namespaces: drop the namespace parameter');
  if (settings.collectionName === undefined) throw badUrl(url, 'name the collection (?collection=C)');
  return { kind: 'memstorage-0.5.3', url: settings.url, collectionName: settings.collectionName };
}
