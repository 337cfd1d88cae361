/**
 * Throwaway Redis servers for the tests and benchmarks: real `redis-server` processes on free
 * ports of 127.0.0.1, without persistence, stopped by PID. `REDIS_URL` points the shared
 * server at an existing one instead (fault and cluster tests always start their own).
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTeardown } from './hooks';

const HOST = '127.0.0.1';
const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const REDIS_CLI = process.env.REDIS_CLI_BIN ?? 'redis-cli';

/** A running redis-server started by the harness. */
export interface RedisServer {
  url: string;
  port: number;
  /** PID of the current process (changes after restart). */
  pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); idempotent. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (after kill or stop). */
  restart(): Promise<void>;
}

/** A running Redis Cluster of masters started by the harness. */
export interface RedisClusterServer {
  nodes: Array<{ host: string; port: number }>;
  servers: RedisServer[];
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** A free port (and, for cluster nodes, a free bus port at port + 10000). */
async function freePort(withBus = false): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 25000);
    if ((await portFree(port)) && (!withBus || (await portFree(port + 10000)))) return port;
  }
  throw new Error('redis-server harness: no free port found');
}

/** Resolves once the server answers PING; rejects after `timeout` ms. */
function waitForPing(port: number, timeout: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + timeout;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`redis-server on port ${port} exited (${child.exitCode ?? child.signalCode}): ${output()}`));
        return;
      }
      const socket = createConnection({ host: HOST, port });
      let data = '';
      const retry = () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server on port ${port} did not answer within ${timeout} ms: ${output()}`));
        else setTimeout(attempt, 25);
      };
      socket.once('error', retry);
      socket.on('data', (chunk) => {
        data += chunk.toString();
        if (data.includes('\r\n')) {
          socket.destroy();
          if (data.startsWith('+PONG')) resolve();
          else retry();
        }
      });
      socket.once('connect', () => socket.write('PING\r\n'));
    };
    attempt();
  });
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

interface ServerOptions {
  port?: number;
  extraArgs?: string[];
  dir?: string;
}

/** Starts a redis-server on a free port of 127.0.0.1 with no persistence; throws loudly if it cannot. */
export async function startRedis(options: ServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `redis-${port}-`));
  const ownsDir = options.dir === undefined;
  let child: ChildProcess;
  let stopped = false;

  const launch = async () => {
    let output = '';
    const args = [
      '--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir,
      '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning', ...(options.extraArgs ?? []),
    ];
    try {
      child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      throw new Error(`cannot start ${REDIS_SERVER}: ${(err as Error).message} (install redis-server, or set REDIS_URL)`, { cause: err });
    }
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (err) => reject(new Error(`cannot start ${REDIS_SERVER}: ${err.message} (install redis-server, or set REDIS_URL)`))),
    );
    child.stdout!.on('data', (d) => (output = (output + d).slice(-4000)));
    child.stderr!.on('data', (d) => (output = (output + d).slice(-4000)));
    await Promise.race([waitForPing(port, 10000, child, () => output), spawnError]);
    child.stdout!.resume();
    child.stderr!.resume();
  };

  const waitExit = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill(signal);
    });

  await launch();
  const server: RedisServer = {
    url: `redis://${HOST}:${port}`,
    port,
    get pid() {
      return child.pid!;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await waitExit('SIGTERM');
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      await waitExit('SIGKILL');
    },
    async restart() {
      await waitExit('SIGKILL');
      await launch();
    },
  };
  return server;
}

/** Starts `masters` cluster-enabled servers and joins them with `redis-cli --cluster create`. */
export async function startRedisCluster(masters = 3): Promise<RedisClusterServer> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort(true);
      servers.push(
        await startRedis({
          port,
          dir,
          extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000'],
        }),
      );
    }
    const addresses = servers.map((s) => `${HOST}:${s.port}`);
    await run(REDIS_CLI, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    // Wait until every node agrees the cluster is up.
    const deadline = Date.now() + 20000;
    for (const s of servers) {
      for (;;) {
        const info = await run(REDIS_CLI, ['-h', HOST, '-p', String(s.port), 'cluster', 'info']);
        if (info.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`redis cluster did not become ready: ${info}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: servers.map((s) => ({ host: HOST, port: s.port })), servers, stop };
}

let shared: Promise<{ url: string }> | undefined;

/** One server for every test file (or REDIS_URL), stopped after the run. */
export function sharedRedis(): Promise<{ url: string }> {
  if (!shared) {
    if (process.env.REDIS_URL) shared = Promise.resolve({ url: process.env.REDIS_URL });
    else {
      shared = startRedis().then((server) => {
        onTeardown(() => server.stop());
        return { url: server.url };
      });
    }
  }
  return shared;
}

let sharedClusterPromise: Promise<RedisClusterServer> | undefined;

/** One cluster for every test file, stopped after the run. */
export function sharedRedisCluster(): Promise<RedisClusterServer> {
  if (!sharedClusterPromise) {
    sharedClusterPromise = startRedisCluster().then((cluster) => {
      onTeardown(() => cluster.stop());
      return cluster;
    });
  }
  return sharedClusterPromise;
}
