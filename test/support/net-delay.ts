/**
 * Latency on a namespace's link where the kernel has no sch_netem: an iptables rule inside the
 * namespace hands every packet leaving it over the link to an NFQUEUE, and a small holder
 * process (Python's standard library, speaking netfilter's netlink protocol itself) gives each
 * packet back to the kernel `ms` after it arrived. The peer sees exactly what netem's `delay`
 * would show it: every reply from the namespace late by `ms`. The queue rule uses `bypass`, so
 * packets pass untouched if the holder is gone.
 *
 * The holder runs inside the namespace (`ip netns exec`), is started by `start()` and stopped
 * by PID in `stop()`: the rule goes first, then the holder lets every packet it still holds go
 * and exits.
 */
import { ChildProcess } from 'node:child_process';
import { NetNamespace, NetUnavailableError } from './netns';

/**
 * The holder: binds queue argv[2] with packet metadata only, answers NF_ACCEPT for each packet
 * argv[1] ms after it arrived; on SIGTERM accepts whatever it holds and exits. Prints "bound"
 * once the queue is bound.
 */
const HOLDER = String.raw`
import socket, struct, sys, time, select, signal, heapq
delay = float(sys.argv[1]) / 1000.0
queue = int(sys.argv[2])
NETLINK_NETFILTER = 12
SUBSYS_QUEUE = 3
MSG_PACKET, MSG_VERDICT, MSG_CONFIG = 0, 1, 2
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((0, 0))
seq = [0]
def attr(kind, payload):
    data = struct.pack('=HH', 4 + len(payload), kind) + payload
    return data + b'\0' * ((4 - len(data) % 4) % 4)
def send(msg, attrs, flags=1):
    seq[0] += 1
    body = struct.pack('=BBH', socket.AF_UNSPEC, 0, socket.htons(queue)) + b''.join(attrs)
    s.send(struct.pack('=IHHII', 16 + len(body), (SUBSYS_QUEUE << 8) | msg, flags, seq[0], 0) + body)
def configure(attrs):
    send(MSG_CONFIG, attrs, 5)  # NLM_F_REQUEST | NLM_F_ACK: the kernel answers with an error code
    data = s.recv(65536)
    if struct.unpack_from('=H', data, 4)[0] == 2 and struct.unpack_from('=i', data, 16)[0] != 0:
        sys.stderr.write('nfqueue config refused: errno %d' % -struct.unpack_from('=i', data, 16)[0])
        sys.exit(3)
configure([attr(1, struct.pack('!BxH', 1, 0))])  # NFQA_CFG_CMD: BIND
configure([attr(2, struct.pack('!IB', 0, 1))])   # NFQA_CFG_PARAMS: copy metadata only
def accept(packet_id):
    try:
        send(MSG_VERDICT, [attr(2, struct.pack('!II', 1, packet_id))])  # NFQA_VERDICT_HDR: NF_ACCEPT
    except OSError:
        pass  # the packet stays queued until the holder exits (then it is accepted or dropped)
held = []
stopping = [False]
def stop(*_):
    stopping[0] = True
signal.signal(signal.SIGTERM, stop)
print('bound', flush=True)
while not stopping[0]:
    timeout = max(0.0, held[0][0] - time.monotonic()) if held else 0.5
    try:
        ready, _, _ = select.select([s], [], [], timeout)
    except InterruptedError:
        continue
    if ready:
        try:
            data = s.recv(1 << 20)
        except OSError:
            data = b''  # ENOBUFS: the kernel dropped some; they are retransmitted
        at = 0
        while at + 16 <= len(data):
            length, kind, _, _, _ = struct.unpack_from('=IHHII', data, at)
            if length < 16:
                break
            if kind == (SUBSYS_QUEUE << 8) | MSG_PACKET:
                pos = at + 20
                while pos + 4 <= at + length:
                    alen, atype = struct.unpack_from('=HH', data, pos)
                    if alen < 4:
                        break
                    if atype & 0x3fff == 1:  # NFQA_PACKET_HDR
                        heapq.heappush(held, (time.monotonic() + delay, struct.unpack_from('!I', data, pos + 4)[0]))
                    pos += (alen + 3) & ~3
            at += (length + 3) & ~3
    now = time.monotonic()
    while held and held[0][0] <= now:
        accept(heapq.heappop(held)[1])
for _, packet_id in held:
    accept(packet_id)
`;

/** A running holder. */
export interface NetDelay {
  pid: number;
  /** Removes the queue rule, lets the held packets go, stops the holder by PID; idempotent. */
  stop(): Promise<void>;
}

/** Delays every packet leaving `ns` over its link by `ms`; resolves once the holder is bound and the rule is in. */
export async function startNetDelay(ns: NetNamespace, ms: number, queue = 7): Promise<NetDelay> {
  const holder: ChildProcess = ns.spawn(process.env.PYTHON ?? 'python3', ['-c', HOLDER, String(ms), String(queue)]);
  let output = '';
  holder.stderr!.on('data', (d) => (output = (output + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      holder.kill('SIGKILL'); // by PID: it never bound, nothing is queued to it
      reject(new Error(`the NFQUEUE holder did not bind within 10 s: ${output}`));
    }, 10_000);
    holder.stdout!.on('data', (d) => {
      if (String(d).includes('bound')) {
        clearTimeout(timer);
        resolve();
      }
    });
    holder.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the NFQUEUE holder exited (${code}): ${output}`));
    });
  });
  // nftables' own `queue` may be left out of a kernel that still has the xtables NFQUEUE target
  // (this project's machines): iptables, through nft's compat layer or the legacy tables.
  const rule = ['OUTPUT', '-o', ns.nsLink, '-j', 'NFQUEUE', '--queue-num', String(queue), '--queue-bypass'];
  let iptables = '';
  const errors: string[] = [];
  for (const tool of ['iptables', 'iptables-legacy']) {
    try {
      await ns.exec(tool, ['-A', ...rule]);
      iptables = tool;
      break;
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (!iptables) {
    holder.kill('SIGTERM');
    await exited;
    throw new NetUnavailableError(`cannot queue packets to the holder: ${errors.join('; ')}`);
  }
  let stopped = false;
  return {
    pid: holder.pid!,
    async stop() {
      if (stopped) return;
      stopped = true;
      await ns.exec(iptables, ['-D', ...rule]).catch(() => undefined);
      if (holder.exitCode === null && holder.signalCode === null) {
        const timer = setTimeout(() => holder.kill('SIGKILL'), 5000);
        holder.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
