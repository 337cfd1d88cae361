/**
 * A throwaway MongoDB for the tests, through mongodb-memory-server-core (SPEC §11).
 *
 * The engine binary comes from, in order: MONGOMS_SYSTEM_BINARY; the path that
 * scripts/ensure-services.sh (`npm pretest`) wrote into .mongod-binary; running
 * ../shared/mongod-kit/setup here. Nothing is ever downloaded; when none of these works the
 * harness fails loudly instead of skipping. With MONGODB_URL set, `sharedMongo()` uses that
 * server and starts nothing.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { MongoMemoryServer } from 'mongodb-memory-server-core';
import { onTeardown } from './hooks';

const ROOT = path.resolve(__dirname, '..', '..');

/** A running server the test owns. */
export interface MongoHandle {
  /** Connection string (directConnection, 127.0.0.1). */
  url: string;
  port: number;
  dbPath: string;
  /** The server process id (changes on restart). */
  pid(): number | undefined;
  /** Stops the server gracefully (SIGINT); the data directory stays until `dispose()`. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops it and removes its data directory. */
  dispose(): Promise<void>;
}

let resolvedBinary: string | undefined;

/** The mongod binary to run; throws with instructions when there is none. */
export function mongodBinary(): string {
  if (resolvedBinary) return resolvedBinary;
  const tried: string[] = [];
  const candidates: Array<() => string | undefined> = [
    () => process.env.MONGOMS_SYSTEM_BINARY || undefined,
    () => {
      const file = path.join(ROOT, '.mongod-binary');
      return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() || undefined : undefined;
    },
    () => {
      const kit = path.resolve(ROOT, '..', 'shared', 'mongod-kit', 'setup');
      if (!fs.existsSync(kit)) return undefined;
      const out = execFileSync(kit, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 120_000 });
      return out.trim().split('\n').pop()?.trim() || undefined;
    },
  ];
  for (const candidate of candidates) {
    let bin: string | undefined;
    try {
      bin = candidate();
    } catch (err) {
      tried.push(String((err as Error).message));
      continue;
    }
    if (!bin) continue;
    try {
      fs.accessSync(bin, fs.constants.X_OK);
      resolvedBinary = bin;
      return bin;
    } catch {
      tried.push(`${bin} is not executable`);
    }
  }
  throw new Error(
    'No MongoDB engine for the tests: set MONGOMS_SYSTEM_BINARY to a mongod, or MONGODB_URL to a running server, ' +
      'or run `npm pretest` (../shared/mongod-kit/setup). Tried: ' + (tried.join('; ') || 'nothing found'),
  );
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a fresh server on a free port with its own data directory. */
export async function startMongo(): Promise<MongoHandle> {
  const systemBinary = mongodBinary();
  const port = await freePort();
  const dbPath = fs.mkdtempSync(path.join(os.tmpdir(), 'memstorage-mongo-'));
  const server = new MongoMemoryServer({
    binary: { systemBinary, version: process.env.MONGOMS_VERSION || '9.0.0', checkMD5: false },
    instance: { ip: '127.0.0.1', port, dbPath, portGeneration: false, launchTimeout: 60_000 },
  });
  await server.start(true);
  let running = true;
  const processOf = () => server.instanceInfo?.instance.mongodProcess;
  const handle: MongoHandle = {
    url: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    port,
    dbPath,
    pid: () => processOf()?.pid,
    async stop() {
      if (!running) return;
      running = false;
      await server.stop({ doCleanup: false });
    },
    async kill() {
      if (!running) return;
      running = false;
      const child = processOf();
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await exited;
      }
      await server.stop({ doCleanup: false });
    },
    async restart() {
      await handle.stop();
      await server.start(true);
      running = true;
    },
    async dispose() {
      await handle.stop();
      fs.rmSync(dbPath, { recursive: true, force: true });
    },
  };
  return handle;
}

let shared: Promise<{ url: string }> | undefined;

/**
 * One server for every test file that needs no faults: MONGODB_URL when set, else a server
 * started once and stopped after the whole run (test/support/hooks.ts).
 */
export function sharedMongo(): Promise<{ url: string }> {
  if (!shared) {
    if (process.env.MONGODB_URL) {
      shared = Promise.resolve({ url: process.env.MONGODB_URL });
    } else {
      shared = startMongo().then((handle) => {
        onTeardown(() => handle.dispose());
        return { url: handle.url };
      });
      shared.catch(() => {
        shared = undefined;
      });
    }
  }
  return shared;
}
