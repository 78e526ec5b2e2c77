// Packet faults with tc: delay with jitter, loss, duplication, reordering
// (the kernel's netem) and a rate limit (an HTB class), on the chosen nodes'
// outgoing traffic only.
//
// The layout is the same everywhere: a root `htb` qdisc of handle 7557: with
// no default class (unclassified packets leave through HTB's direct queue,
// unshaped), one class per run (7557:M, rate-limited or not), netem as that
// class's leaf when the fault has netem settings, and u32 filters of
// priority M that send the chosen nodes' packets to the class.
//   - local provider: on the host's loopback, shared by every run of the
//     harness on the machine. Filters match `ip src NODE` (each node has its
//     own 127.A.B.x), so other nodes and the rest of the machine are not
//     touched. A run claims its class atomically (`tc class add` fails when
//     another run holds that minor), removes exactly its filters, class and
//     leaf, and the last run out removes the root (so `tc qdisc show dev lo`
//     is back to noqueue). A root qdisc on lo that is not ours: refused.
//     Systems whose nodes dial from 127.0.0.1 and run as users of their own
//     (`localPartitioning: 'owner'`, etcd): no filters; instead a chain of
//     the run's own in iptables' mangle OUTPUT sets the class of each chosen
//     node's packets by owner (`-m owner --uid-owner UID -j CLASSIFY`), and
//     HTB takes a packet's class from it before any filter.
//   - Docker: in the container's network namespace (nsenter from the host),
//     on eth0, with one filter that matches every IPv4 packet.
// Loopback traffic leaves through lo's egress once, before INPUT, so the
// iptables partitions (INPUT) still drop a delayed packet: both compose.

import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Netem } from '../harness/core/provider.js';
import { leftoverChains, removeChain, type Netfilter } from './iptables.js';
import { processAlive as alive } from '../harness/core/process.js';

export const PACKET_KINDS = ['delay', 'loss', 'duplicate', 'reorder', 'rate'] as const;
export type PacketKind = (typeof PACKET_KINDS)[number];
/** Kinds that need the kernel's netem qdisc (rate is an HTB class). */
export const NETEM_KINDS: readonly PacketKind[] = ['delay', 'loss', 'duplicate', 'reorder'];

export type { Netem };

/** The run's class, the filters' priority and the leaf's handle come from this tc major. */
export const TC_MAJOR = '7557';
/** Loopback's MTU is 64 KiB: a quantum and burst below it would stall big packets. */
const QUANTUM = 65_536;
/** netem's queue (default 1000 packets): a delayed busy node must not overflow it into loss. */
const NETEM_LIMIT = 100_000;

const num = (v: unknown, what: string, min: number, max: number): void => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new RangeError(`${what} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
};

export function checkNetem(n: Netem): void {
  if (n.delayMs !== undefined) num(n.delayMs, 'delayMs', 0, 60_000);
  if (n.jitterMs !== undefined) {
    num(n.jitterMs, 'jitterMs', 0, 60_000);
    if (n.delayMs === undefined) throw new RangeError('jitterMs needs a delayMs');
  }
  if (n.lossPct !== undefined) num(n.lossPct, 'lossPct', 0, 100);
  if (n.duplicatePct !== undefined) num(n.duplicatePct, 'duplicatePct', 0, 100);
  if (n.reorderPct !== undefined) {
    num(n.reorderPct, 'reorderPct', 0, 100);
    if (!(n.delayMs !== undefined && n.delayMs > 0))
      throw new RangeError('reorderPct needs a delayMs above 0 (netem reorders by sending some packets without the delay)');
  }
  if (n.rateKbit !== undefined) num(n.rateKbit, 'rateKbit', 8, 100_000_000);
  const fields = ['delayMs', 'lossPct', 'duplicatePct', 'reorderPct', 'rateKbit'] as const;
  if (!fields.some((f) => n[f] !== undefined))
    throw new RangeError('a packet fault needs at least one of delayMs, lossPct, duplicatePct, reorderPct, rateKbit');
}

/** Does the fault need netem (anything but a rate limit)? */
export const needsNetem = (n: Netem): boolean =>
  n.delayMs !== undefined || n.lossPct !== undefined || n.duplicatePct !== undefined || n.reorderPct !== undefined;

/** netem's arguments (after `netem`): delay [jitter] [reorder] [loss] [duplicate] limit. Empty without netem settings. */
export function netemArgs(n: Netem): string[] {
  checkNetem(n);
  if (!needsNetem(n)) return [];
  const args: string[] = [];
  if (n.delayMs !== undefined) {
    args.push('delay', `${n.delayMs}ms`);
    if (n.jitterMs !== undefined && n.jitterMs > 0) args.push(`${n.jitterMs}ms`);
  }
  if (n.reorderPct !== undefined) args.push('reorder', `${n.reorderPct}%`);
  if (n.lossPct !== undefined) args.push('loss', 'random', `${n.lossPct}%`);
  if (n.duplicatePct !== undefined) args.push('duplicate', `${n.duplicatePct}%`);
  args.push('limit', String(NETEM_LIMIT));
  return args;
}

/** The HTB class's rate arguments: the limit, or a rate no link here reaches. */
export function rateArgs(n: Netem): string[] {
  const rate = n.rateKbit !== undefined ? `${n.rateKbit}kbit` : '100gbit';
  return ['rate', rate, 'ceil', rate, 'quantum', String(QUANTUM), 'burst', String(QUANTUM), 'cburst', String(QUANTUM)];
}

/** One line for the log and the report: "delay 100ms±10ms, loss 5%, rate 512kbit". */
export function describeNetem(n: Netem): string {
  const parts: string[] = [];
  if (n.delayMs !== undefined) parts.push(`delay ${n.delayMs}ms${n.jitterMs ? `±${n.jitterMs}ms` : ''}`);
  if (n.reorderPct !== undefined) parts.push(`reorder ${n.reorderPct}%`);
  if (n.lossPct !== undefined) parts.push(`loss ${n.lossPct}%`);
  if (n.duplicatePct !== undefined) parts.push(`duplicate ${n.duplicatePct}%`);
  if (n.rateKbit !== undefined) parts.push(`rate ${n.rateKbit}kbit`);
  return parts.join(', ');
}

/**
 * A fault's settings drawn from the chosen kinds: each kind in with
 * probability 1/2, at least one. Reordering brings a small delay when no
 * delay was drawn (netem reorders by not delaying some packets).
 */
export function drawNetem(kinds: readonly PacketKind[], random: { int(n: number): number; float(): number }): Netem {
  if (kinds.length === 0) throw new RangeError('drawNetem needs at least one packet kind');
  let chosen = kinds.filter(() => random.float() < 0.5);
  if (chosen.length === 0) chosen = [kinds[random.int(kinds.length)]!];
  const n: { -readonly [K in keyof Netem]: Netem[K] } = {};
  if (chosen.includes('delay')) {
    n.delayMs = 50 + random.int(451);
    n.jitterMs = random.int(Math.floor(n.delayMs / 4) + 1);
  }
  if (chosen.includes('reorder')) {
    n.delayMs ??= 10 + random.int(41);
    n.reorderPct = 10 + random.int(41);
  }
  if (chosen.includes('loss')) n.lossPct = 5 + random.int(26);
  if (chosen.includes('duplicate')) n.duplicatePct = 5 + random.int(26);
  if (chosen.includes('rate')) n.rateKbit = 256 * (1 + random.int(32));
  return n;
}

/** Runs `tc ARGS` somewhere: the host, or a process's network namespace. */
export interface Tc {
  readonly where: string;
  run(args: readonly string[]): Promise<string>;
}

function exec(file: string, args: readonly string[], shown: readonly string[], where: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        const why = (stderr || err.message).trim().split('\n')[0];
        reject(Object.assign(new Error(`tc ${shown.join(' ')} failed (${where}): ${why}`), { stderr: String(stderr) }));
      } else resolve(stdout);
    });
  });
}

export function hostTc(): Tc {
  return { where: 'host', run: (args) => exec('tc', args, args, 'host') };
}

/** In the network namespace of process `pid` (a container's init): `nsenter -t PID -n tc ...`. */
export function netnsTc(pid: number): Tc {
  if (!(Number.isSafeInteger(pid) && pid > 0)) throw new RangeError(`netnsTc needs a process id, got ${pid}`);
  const where = `netns of pid ${pid}`;
  return { where, run: (args) => exec('nsenter', ['-t', String(pid), '-n', 'tc', ...args], args, where) };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The root qdisc of `dev`: its kind and handle ("noqueue", "0:"). */
export async function rootQdisc(tc: Tc, dev: string): Promise<{ kind: string; handle: string } | null> {
  const out = await tc.run(['qdisc', 'show', 'dev', dev, 'root']);
  const m = /^qdisc (\S+) (\S+) root/m.exec(out);
  return m ? { kind: m[1]!, handle: m[2]! } : null;
}

const OURS = `${TC_MAJOR}:`;
const isOurs = (r: { kind: string; handle: string } | null) => r !== null && r.kind === 'htb' && r.handle === OURS;
/** Root qdiscs that mean "nothing there": ours may go on top, and removing ours brings them back. */
const EMPTY_ROOTS = new Set(['noqueue', 'pfifo_fast', 'mq', 'fq_codel', 'noop']);

/** Why a root qdisc (of someone else's) keeps packet faults off `dev`; null when it is ours or the default. */
function foreignRoot(tc: Tc, dev: string, root: { kind: string; handle: string } | null): string | null {
  if (root === null || isOurs(root) || (EMPTY_ROOTS.has(root.kind) && (root.handle === '0:' || root.kind === 'noqueue'))) return null;
  return `${dev} (${tc.where}) already has a root qdisc that is not Undertow's (${root.kind} ${root.handle}): packet faults will not replace it`;
}

/** Can packet faults go on `dev` (no root qdisc of someone else's)? For the check before a run. */
export async function rootFree(tc: Tc, dev: string): Promise<string | null> {
  return foreignRoot(tc, dev, await rootQdisc(tc, dev));
}

/** Puts our root on `dev` unless it is there; refuses a root qdisc of someone else's. */
async function ensureRoot(tc: Tc, dev: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const root = await rootQdisc(tc, dev);
    if (isOurs(root)) return;
    const foreign = foreignRoot(tc, dev, root);
    if (foreign !== null) throw new Error(foreign);
    try {
      await tc.run(['qdisc', 'add', 'dev', dev, 'root', 'handle', OURS, 'htb']);
      return;
    } catch (e) {
      // Another run put ours there meanwhile: look again.
      if (attempt === 2) throw e;
    }
  }
}

/** The minors of our classes on `dev`. */
async function ourClasses(tc: Tc, dev: string): Promise<number[]> {
  const out = await tc.run(['class', 'show', 'dev', dev]);
  return [...out.matchAll(new RegExp(`^class htb ${TC_MAJOR}:([0-9a-f]+) `, 'gm'))].map((m) => parseInt(m[1]!, 16));
}

/** A run's class minor: from a hash of the run id, in [0x10, 0xfff0), never our major. */
export function classMinor(runId: string, attempt = 0): number {
  const h = createHash('sha256').update(`${runId}/${attempt}`).digest().readUInt32BE(0);
  const m = 0x10 + (h % 0xffe0);
  return m === parseInt(TC_MAJOR, 16) ? m + 1 : m;
}

const hex = (n: number) => n.toString(16);

/** Where a run's packet fault lives on a device: the class minor (also the filters' priority and the leaf's major). */
export interface PacketSlot {
  readonly dev: string;
  readonly minor: number;
}

/**
 * Applies `netem` to packets from `sources` (IPv4 addresses; `'all'`: every
 * IPv4 packet) on `dev`, replacing what the slot held. Without a slot yet, one
 * is claimed (`claim` is called with it before anything is added, so that a
 * registry names it before it exists). Returns the slot.
 */
export async function applyPacket(
  tc: Tc,
  dev: string,
  runId: string,
  slot: PacketSlot | null,
  sources: readonly string[] | 'all' | 'classified',
  netem: Netem,
  claim: (slot: PacketSlot) => void = () => undefined,
): Promise<PacketSlot> {
  checkNetem(netem);
  if (sources !== 'all' && sources !== 'classified') {
    if (sources.length === 0) throw new RangeError('a packet fault needs at least one node');
    for (const s of sources) if (!IPV4.test(s)) throw new RangeError(`a packet fault's source must be an IPv4 address, got ${JSON.stringify(s)}`);
  }
  const leaf = netemArgs(netem);
  if (slot !== null) await clearSlot(tc, slot, { keepRoot: true });
  await ensureRoot(tc, dev);
  let minor = -1;
  for (let attempt = 0; minor < 0; attempt++) {
    if (attempt >= 20) throw new Error(`no free tc class under ${OURS} on ${dev} (${tc.where}) after 20 tries`);
    const m = classMinor(runId, attempt);
    if ((await ourClasses(tc, dev)).includes(m)) continue;
    claim({ dev, minor: m });
    try {
      await tc.run(['class', 'add', 'dev', dev, 'parent', OURS, 'classid', `${TC_MAJOR}:${hex(m)}`, 'htb', ...rateArgs(netem)]);
      minor = m;
    } catch (e) {
      // Taken meanwhile (another run), or the root went (the last run out removed it): again.
      if (!(await ourClasses(tc, dev).catch(() => [] as number[])).includes(m)) await ensureRoot(tc, dev);
      if (attempt >= 19) throw e;
    }
  }
  const got: PacketSlot = { dev, minor };
  try {
    if (leaf.length > 0) await tc.run(['qdisc', 'add', 'dev', dev, 'parent', `${TC_MAJOR}:${hex(minor)}`, 'handle', `${hex(minor)}:`, 'netem', ...leaf]);
    // 'classified': the caller sets the class of the packets (iptables CLASSIFY): no filter.
    const matches = sources === 'classified' ? [] : sources === 'all' ? [['match', 'u32', '0', '0']] : sources.map((s) => ['match', 'ip', 'src', `${s}/32`]);
    for (const m of matches) {
      await tc.run(['filter', 'add', 'dev', dev, 'parent', OURS, 'protocol', 'ip', 'prio', String(minor), 'u32', ...m, 'flowid', `${TC_MAJOR}:${hex(minor)}`]);
    }
  } catch (e) {
    await clearSlot(tc, got).catch(() => undefined);
    throw e;
  }
  return got;
}

const gone = (e: unknown) =>
  /No such file|Cannot find|not find|does not exist|Invalid handle|No such device/i.test(String((e as { stderr?: string }).stderr ?? (e as Error).message));

/**
 * Removes the slot's filters, class and leaf; then the root, when no class of
 * ours is left on the device (and `keepRoot` is not set). Fine if they are gone.
 */
export async function clearSlot(tc: Tc, slot: PacketSlot, o: { keepRoot?: boolean } = {}): Promise<void> {
  const root = await rootQdisc(tc, slot.dev);
  if (!isOurs(root)) return;
  await tc.run(['filter', 'del', 'dev', slot.dev, 'parent', OURS, 'protocol', 'ip', 'prio', String(slot.minor)]).catch((e) => {
    if (!gone(e)) throw e;
  });
  await tc.run(['class', 'del', 'dev', slot.dev, 'classid', `${TC_MAJOR}:${hex(slot.minor)}`]).catch((e) => {
    if (!gone(e)) throw e;
  });
  if (o.keepRoot !== true) await removeRootIfUnused(tc, slot.dev);
}

/** Removes our root from `dev` when it holds no class and no filter. */
export async function removeRootIfUnused(tc: Tc, dev: string): Promise<void> {
  if (!isOurs(await rootQdisc(tc, dev))) return;
  if ((await ourClasses(tc, dev)).length > 0) return;
  if ((await tc.run(['filter', 'show', 'dev', dev, 'parent', OURS])).trim() !== '') return;
  await tc.run(['qdisc', 'del', 'dev', dev, 'root', 'handle', OURS]).catch((e) => {
    if (!gone(e)) throw e;
  });
}

/** The class minors of ours on `dev` (for the leftovers of dead runs). */
export async function packetSlots(tc: Tc, dev: string): Promise<PacketSlot[]> {
  if (!isOurs(await rootQdisc(tc, dev))) return [];
  return (await ourClasses(tc, dev)).map((minor) => ({ dev, minor }));
}

/** The tc class id of a slot, as iptables CLASSIFY takes it. */
export const classId = (slot: PacketSlot): string => `${TC_MAJOR}:${hex(slot.minor)}`;

/** iptables' mangle table through a Netfilter (which works on the filter table). */
const mangle = (nf: Netfilter): Netfilter => ({ ...nf, where: `${nf.where}, mangle`, run: (args) => nf.run(['-t', 'mangle', ...args]) });

/**
 * Makes CHAIN (in the mangle table, hooked first into OUTPUT) set the tc
 * class of every packet that processes of these uids send on loopback:
 * how packet faults pick the nodes that run as users of their own.
 */
export async function installClassify(nf: Netfilter, chain: string, uids: readonly number[], slot: PacketSlot): Promise<void> {
  for (const uid of uids) {
    // uid 0 would be the harness itself (and everything else of root's on the machine).
    if (!(Number.isSafeInteger(uid) && uid > 0 && uid <= 0xffffffff)) throw new RangeError(`a packet fault by owner needs uids above 0, got ${uid}`);
  }
  if (uids.length === 0) throw new RangeError('a packet fault by owner needs at least one uid');
  const m = mangle(nf);
  await removeChain(m, chain);
  await m.run(['-N', chain]);
  for (const uid of [...new Set(uids)])
    await m.run(['-A', chain, '-o', 'lo', '-m', 'owner', '--uid-owner', String(uid), '-j', 'CLASSIFY', '--set-class', classId(slot)]);
  await m.run(['-I', 'OUTPUT', '1', '-j', chain]);
}

/** Unhooks and deletes a CLASSIFY chain of ours; fine if it does not exist. */
export const removeClassify = (nf: Netfilter, chain: string): Promise<void> => removeChain(mangle(nf), chain);

/** Our chains in the mangle table (the caller knows which runs are alive). */
export const leftoverClassifyChains = (nf: Netfilter): Promise<string[]> => leftoverChains(mangle(nf));

/**
 * Serializes the harnesses of this machine around loopback's shared root (a
 * run adding its class while the last one out removes the root): a lock
 * directory holding the holder's pid; a dead holder's lock is taken over.
 */
const LOCK = join(tmpdir(), 'undertow-tc-lo.lock');
export async function withLoopbackLock<T>(work: () => Promise<T>): Promise<T> {
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = NaN;
      try {
        holder = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
      } catch {
        /* being written, or gone */
      }
      const dead = Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && !alive(holder);
      if (dead) rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > end) throw new Error(`the loopback tc lock ${LOCK} is held by pid ${holder} for over 60 s`);
      else await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/**
 * Can packet faults of these kinds run here? tc installed, and the kernel's
 * htb, u32 and (for delay, loss, duplicate, reorder) netem: tried in a
 * throwaway network namespace, so nothing of the host is touched.
 */
export async function packetUsable(kinds: readonly PacketKind[]): Promise<{ ok: true } | { ok: false; why: string; fix?: string }> {
  if (process.getuid?.() !== 0)
    return { ok: false, why: `packet faults need root to run tc (this process runs as uid ${process.getuid?.()})`, fix: 'run as root' };
  try {
    await exec('tc', ['-V'], ['-V'], 'host');
  } catch (e) {
    if ((e as Error).message.includes('ENOENT')) return { ok: false, why: 'tc is not installed', fix: 'apt-get install -y iproute2' };
  }
  const probe = async (args: string[]): Promise<string | null> => {
    try {
      await exec('unshare', ['--net', 'sh', '-c', args.join(' ')], args, 'a throwaway netns');
      return null;
    } catch (e) {
      // Without unshare (util-linux) nothing can be tried here without touching the host: the fault itself will say.
      if ((e as Error).message.includes('ENOENT')) return null;
      return (e as Error).message.split(': ').slice(-1)[0]!;
    }
  };
  const htb = await probe(['tc qdisc add dev lo root handle 1: htb', '&&', 'tc filter add dev lo parent 1: protocol ip prio 1 u32 match u32 0 0 flowid 1:1']);
  if (htb !== null)
    return { ok: false, why: `the kernel has no htb qdisc or u32 filter (tc said: ${htb})`, fix: 'load sch_htb and cls_u32 (modprobe sch_htb cls_u32)' };
  const wanted = kinds.filter((k) => NETEM_KINDS.includes(k));
  if (wanted.length > 0) {
    const netem = await probe(['tc qdisc add dev lo root handle 1: netem delay 1ms']);
    if (netem !== null) {
      return {
        ok: false,
        why: `--packet ${wanted.join(',')} needs the kernel's netem qdisc, which this kernel lacks (tc said: ${netem})`,
        fix: 'modprobe sch_netem (a kernel with CONFIG_NET_SCH_NETEM), or --packet rate alone',
      };
    }
  }
  return { ok: true };
}
