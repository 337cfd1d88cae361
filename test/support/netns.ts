/**
 * A network namespace joined to this one by a veth pair on a private /30, for fault tests that
 * need a real link (SPEC §9, issue #13 item 10): servers run inside the namespace, bound to its
 * address, and the link is then given latency, loss or a full partition by the kernel.
 *
 * Faults are applied with `tc qdisc ... netem` on both ends of the link where the kernel has
 * sch_netem. Where it does not (a kernel built without it and without modules, as on this
 * project's machines), loss and partitions fall back to nftables inside the namespace —
 * `numgen random mod 100 < N drop` and `drop`, on packets entering and leaving it — which the
 * peer sees exactly as lost packets on the wire — and latency to an NFQUEUE holder
 * (test/support/net-delay.ts) that gives each packet back to the kernel late.
 *
 * Everything made here has a name holding this process's PID and is removed by `remove()`
 * (deleting the namespace removes its end of the link, its rules and its addresses); servers
 * started inside are stopped by PID before. The tools come from Debian's iproute2 and nftables
 * (.ci/run installs them), and iptables for the NFQUEUE rule.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import type { NetDelay } from './net-delay';

/** Why the kernel (or the lack of privileges) refused what a test needs: the test skips, loudly. */
export class NetUnavailableError extends Error {}

/** How faults are put on the link. */
export type FaultTool = 'netem' | 'nftables';

/** A namespace and its link. */
export interface NetNamespace {
  name: string;
  /** The host end of the veth pair, and the end inside the namespace. */
  hostLink: string;
  nsLink: string;
  hostAddress: string;
  nsAddress: string;
  /** What applies loss and partitions. */
  tool: FaultTool;
  /** Runs a command inside the namespace; resolves with its stdout. */
  exec(file: string, args: string[]): Promise<string>;
  /** Starts a long-running process inside the namespace (its PID is the program's own: `ip netns exec` execs it). */
  spawn(file: string, args: string[]): ChildProcess;
  /** Removes every fault: the link is clean again. */
  clear(): Promise<void>;
  /** Drops `percent` % of the packets in each direction. */
  loss(percent: number): Promise<void>;
  /** Drops every packet in both directions (a partition; TCP connections stay open, as on a real cut link). */
  partition(): Promise<void>;
  /** Delays the link's packets by `ms`: netem on the host's end, else every packet leaving the namespace through the NFQUEUE holder (net-delay.ts). */
  delay(ms: number): Promise<void>;
  /** How the delay is applied. */
  delayTool(): 'netem' | 'nfqueue' | undefined;
  /** Removes the namespace, the veth pair and everything in them; idempotent, never throws. */
  remove(): Promise<void>;
}

/** Runs a command; rejects with its stderr. */
export function run(file: string, args: string[], timeout = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(new Error(`${file} ${args.join(' ')}: ${String(stderr).trim() || err.message}`), { stderr: String(stderr) }));
      else resolve(String(stdout));
    });
  });
}

/** Whether an error from ip/tc/nft says the kernel or our privileges refuse (not a bug of ours). */
function refused(err: unknown): boolean {
  const text = String((err as { stderr?: string }).stderr ?? (err as Error).message);
  return /Operation not permitted|Permission denied|not supported|Unknown qdisc|qdisc kind is unknown|No such file or directory|Protocol not supported|Cannot open netlink/i.test(
    text,
  );
}

/** A /30 on 10.213.0.0/16 derived from the PID, moved on while any address of it is in use here. */
async function pickSubnet(): Promise<{ host: string; ns: string }> {
  const used = await run('ip', ['-o', '-4', 'addr', 'show']);
  for (let attempt = 0; attempt < 64; attempt++) {
    const n = (process.pid + attempt * 7919) % 16384; // 16,384 /30s in a /16
    const third = n >> 6;
    const base = (n & 63) * 4;
    const host = `10.213.${third}.${base + 1}`;
    const ns = `10.213.${third}.${base + 2}`;
    if (!used.includes(`10.213.${third}.${base + 1}/`) && !used.includes(`10.213.${third}.${base + 2}/`)) return { host, ns };
  }
  throw new Error('netns: no free /30 in 10.213.0.0/16');
}

/**
 * Creates the namespace and its link, and finds how faults can be applied. Throws
 * NetUnavailableError when the kernel or the privileges refuse (no netns, no veth, no packet
 * dropping at all); anything else is a real failure.
 */
export async function createNetNamespace(tag: string): Promise<NetNamespace> {
  const suffix = `${process.pid}`;
  const name = `ms-${tag}-${suffix}`;
  const hostLink = `msh${suffix}`.slice(0, 15);
  const nsLink = `msn${suffix}`.slice(0, 15);
  const { host: hostAddress, ns: nsAddress } = await pickSubnet();
  let created = false;
  let linked = false;
  const remove = async () => {
    if (linked) await run('ip', ['link', 'del', hostLink]).catch(() => undefined);
    if (created) await run('ip', ['netns', 'del', name]).catch(() => undefined);
    linked = false;
    created = false;
  };
  const inNs = (file: string, args: string[]) => run('ip', ['netns', 'exec', name, file, ...args]);
  try {
    await run('ip', ['netns', 'add', name]);
    created = true;
    await run('ip', ['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', nsLink]);
    linked = true;
    await run('ip', ['link', 'set', nsLink, 'netns', name]);
    await run('ip', ['addr', 'add', `${hostAddress}/30`, 'dev', hostLink]);
    await run('ip', ['link', 'set', hostLink, 'up']);
    await inNs('ip', ['addr', 'add', `${nsAddress}/30`, 'dev', nsLink]);
    await inNs('ip', ['link', 'set', nsLink, 'up']);
    await inNs('ip', ['link', 'set', 'lo', 'up']);
  } catch (err) {
    await remove();
    if (refused(err)) throw new NetUnavailableError(`cannot create a network namespace and a veth pair: ${(err as Error).message}`);
    throw err;
  }

  // Which tool can fault the link: netem if the kernel has it, else nftables in the namespace.
  let tool: FaultTool;
  try {
    await run('tc', ['qdisc', 'add', 'dev', hostLink, 'root', 'netem', 'delay', '0ms']);
    await run('tc', ['qdisc', 'del', 'dev', hostLink, 'root']);
    tool = 'netem';
  } catch (netemErr) {
    if (!refused(netemErr)) {
      await remove();
      throw netemErr;
    }
    try {
      await inNs('nft', ['add', 'table', 'inet', 'fault']);
      await inNs('nft', ['add', 'chain', 'inet', 'fault', 'in', '{ type filter hook input priority 0; policy accept; }']);
      await inNs('nft', ['add', 'chain', 'inet', 'fault', 'out', '{ type filter hook output priority 0; policy accept; }']);
      tool = 'nftables';
    } catch (nftErr) {
      await remove();
      if ((nftErr as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('this kernel has no sch_netem: the fault test needs nft (Debian package nftables; .ci/run installs it)', { cause: nftErr });
      if (refused(nftErr)) {
        throw new NetUnavailableError(`the kernel refuses both netem (${(netemErr as Error).message}) and nftables (${(nftErr as Error).message})`);
      }
      throw nftErr;
    }
  }

  const netem = async (args: string[] | null) => {
    for (const [dev, inside] of [[hostLink, false], [nsLink, true]] as const) {
      const base = ['qdisc', args ? 'replace' : 'del', 'dev', dev, 'root'];
      const full = args ? [...base, 'netem', ...args] : base;
      const done = inside ? inNs('tc', full) : run('tc', full);
      await done.catch((err) => {
        if (args) throw err; // deleting a qdisc that is not there is fine
      });
    }
  };
  let holder: NetDelay | undefined;
  let delayTool: 'netem' | 'nfqueue' | undefined;
  const stopHolder = async () => {
    await holder?.stop();
    holder = undefined;
  };
  const nftRule = async (rule: string[] | null) => {
    for (const chain of ['in', 'out']) {
      await inNs('nft', ['flush', 'chain', 'inet', 'fault', chain]);
      // Loopback inside the namespace is never faulted: only the link is.
      if (rule) await inNs('nft', ['add', 'rule', 'inet', 'fault', chain, chain === 'in' ? 'iifname' : 'oifname', nsLink, ...rule]);
    }
  };

  const self: NetNamespace = {
    name,
    hostLink,
    nsLink,
    hostAddress,
    nsAddress,
    tool,
    exec: inNs,
    spawn(file, args) {
      return spawn('ip', ['netns', 'exec', name, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    },
    async clear() {
      await stopHolder();
      if (tool === 'netem') await netem(null);
      else await nftRule(null);
    },
    async loss(percent) {
      if (tool === 'netem') await netem(['loss', `${percent}%`]);
      else await nftRule(['numgen', 'random', 'mod', '100', '<', String(percent), 'drop']);
    },
    async partition() {
      if (tool === 'netem') await netem(['loss', '100%']);
      else await nftRule(['drop']);
    },
    async delay(ms) {
      if (tool === 'netem') {
        await run('tc', ['qdisc', 'replace', 'dev', hostLink, 'root', 'netem', 'delay', `${ms}ms`]);
        delayTool = 'netem';
        return;
      }
      await stopHolder();
      // Loaded here: net-delay.ts imports this file.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { startNetDelay } = require('./net-delay') as typeof import('./net-delay');
      holder = await startNetDelay(self, ms);
      delayTool = 'nfqueue';
    },
    delayTool: () => delayTool,
    async remove() {
      await stopHolder().catch(() => undefined);
      await remove();
    },
  };
  return self;
}

/** A redis-server running inside a namespace, bound to its address. */
export interface NsRedis {
  url: string;
  host: string;
  port: number;
  pid: number;
  /** Stops it by PID (SIGTERM, SIGKILL after 5 s); idempotent. */
  stop(): Promise<void>;
}

/** Starts redis-server inside `ns` on `ns.nsAddress`; resolves once it answers PING from this side of the link. */
export async function startRedisIn(ns: NetNamespace, port = 6379): Promise<NsRedis> {
  const child = ns.spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', [
    '--bind', ns.nsAddress, '--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no',
    '--protected-mode', 'no', '--loglevel', 'warning', '--dir', '/tmp',
  ]);
  let output = '';
  child.stdout!.on('data', (d) => (output = (output + d).slice(-4000)));
  child.stderr!.on('data', (d) => (output = (output + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.kill('SIGTERM');
    await exited;
    clearTimeout(timer);
  };
  try {
    await pingUntil(ns.nsAddress, port, 10_000, () => child.exitCode !== null || child.signalCode !== null, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis://${ns.nsAddress}:${port}`, host: ns.nsAddress, port, pid: child.pid!, stop };
}

/** Resolves once a PING over a fresh connection is answered; rejects after `timeout` ms or when `dead()`. */
export function pingUntil(host: string, port: number, timeout: number, dead: () => boolean = () => false, output: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeout;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (dead()) return reject(new Error(`redis-server at ${host}:${port} exited: ${output()}`));
      const socket = createConnection({ host, port });
      let data = '';
      let settled = false;
      const retry = () => {
        if (settled) return;
        settled = true;
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server at ${host}:${port} did not answer within ${timeout} ms: ${output()}`));
        else setTimeout(attempt, 25);
      };
      socket.setTimeout(500, retry);
      socket.once('error', retry);
      socket.on('data', (chunk) => {
        data += chunk.toString();
        if (!data.includes('\r\n')) return;
        if (data.startsWith('+PONG')) {
          settled = true;
          socket.destroy();
          resolve();
        } else retry();
      });
      socket.once('connect', () => socket.write('PING\r\n'));
    };
    attempt();
  });
}
