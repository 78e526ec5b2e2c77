// Partitions with iptables. A run owns one chain (UNDERTOW-<run>), hooked
// first into INPUT; a partition is that chain holding exactly the DROP rules
// of the current grudge, and healing is removing the chain. Working on a
// chain of our own keeps every rule of the run in one place: nothing of
// anyone else's is ever touched, and a dead run's leftovers are found by name.
//
// Two ways to name the sender. By source address (INPUT): nodes that bind
// their outgoing connections to their own address. By owner (OUTPUT, `-o lo
// -m owner --uid-owner UID`): nodes whose outgoing connections leave from
// 127.0.0.1 whatever they listen on (Go's dialer: etcd), each run as a user
// of its own. A grudge "B drops packets from A" then needs two rules, because
// A's packets reach B on two kinds of connections:
//   - those A dialed: A's packets go to B's address (`-d B`);
//   - those B dialed (A's replies): A's packets go from A's address to
//     127.0.0.1, like its replies to anyone else. Which connections B dialed
//     is known by a connmark: B's packets to A's address mark the connection
//     with B's uid, and A's packets on a connection so marked are dropped.
//     etcd needs this: a member reads its peers' messages on streams it
//     dialed itself, so without it a one-way grudge cuts nothing.
//     A connection that predates the mark rule is marked only by its
//     opener's next packet (a delayed ACK: tens of ms during which the other
//     side's messages still arrive), so a deployment marks every connection
//     from its first packet with a chain of marks of its own, installed
//     before the nodes start and kept until teardown (installMarks,
//     ownerMarks).
// The owner match only works in OUTPUT, so a chain holds drops of one kind
// and is hooked from INPUT (by address) or OUTPUT (by owner).
//
// Where the rules go is a `Netfilter`: the host (the local provider: nodes on
// 127.0.0.x, whose packets to each other traverse INPUT on lo) or a process's
// network namespace (the Docker provider: each container filters its own
// INPUT). Existence checks parse `iptables -S` instead of error messages,
// which differ between the nft and legacy back ends.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Grudge } from '../harness/core/provider.js';

/** Runs `iptables -w ARGS` somewhere. */
export interface Netfilter {
  /** For messages: "host", "netns of pid 1234". */
  readonly where: string;
  run(args: readonly string[]): Promise<string>;
  /**
   * When set, every DROP rule also matches `-i IFACE`. The host uses "lo": the
   * partitions of the local provider are between loopback addresses, and no
   * rule of ours may ever match the host's real traffic.
   */
  readonly inInterface?: string;
}

/** Seconds to wait for the xtables lock before failing (another iptables, Docker's, may hold it). */
const LOCK_WAIT_S = '30';

function exec(file: string, args: readonly string[], where: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) {
        const why = (stderr || err.message).trim().split('\n')[0];
        reject(new Error(`iptables ${args.filter((a) => a !== '-w' && a !== LOCK_WAIT_S).join(' ')} failed (${where}): ${why}`));
      } else resolve(stdout);
    });
  });
}

export function hostNetfilter(): Netfilter {
  return { where: 'host', inInterface: 'lo', run: (args) => exec('iptables', ['-w', LOCK_WAIT_S, ...args], 'host') };
}

/** In the network namespace of process `pid` (a container's init, say): `nsenter -t PID -n iptables ...`. */
export function netnsNetfilter(pid: number): Netfilter {
  if (!(Number.isSafeInteger(pid) && pid > 0)) throw new RangeError(`netnsNetfilter needs a process id, got ${pid}`);
  const where = `netns of pid ${pid}`;
  return { where, run: (args) => exec('nsenter', ['-t', String(pid), '-n', 'iptables', '-w', LOCK_WAIT_S, ...args], where) };
}

/**
 * Drop packets from `src` (to `dst` when given), matched in INPUT. With
 * `uidOwner`: packets sent by processes of that uid on loopback, matched in
 * OUTPUT (`-o lo -m owner --uid-owner`), narrowed by `src` and `dst` when
 * given; with `dialedBy` too, only those on connections that processes of uid
 * `dialedBy` opened to `src` (the sender's replies to that user).
 */
export interface Drop {
  /** Required for a drop by address (without `uidOwner`) and with `dialedBy`. */
  readonly src?: string;
  readonly dst?: string;
  readonly uidOwner?: number;
  readonly dialedBy?: number;
}

type Hook = 'INPUT' | 'OUTPUT';
const HOOKS: readonly Hook[] = ['INPUT', 'OUTPUT'];

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** Chain names iptables accepts: at most 28 characters, none of them blanks or option-like. */
const CHAIN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,27}$/;

function assertIpv4(a: string, what: string): void {
  if (!IPV4.test(a)) throw new RangeError(`${what} must be an IPv4 address, got ${JSON.stringify(a)}`);
}

function assertChain(chain: string): void {
  if (!CHAIN.test(chain) || ['INPUT', 'OUTPUT', 'FORWARD', 'PREROUTING', 'POSTROUTING'].includes(chain)) {
    throw new RangeError(`not a chain name of ours: ${JSON.stringify(chain)} (1 to 28 letters, digits, _ . -; not a built-in chain)`);
  }
}

export const CHAIN_PREFIX = 'UNDERTOW-';
const MAX_CHAIN = 28;

/**
 * 'UNDERTOW-' + the run id, within iptables' 28 characters. A run id that is
 * too long or has other characters is replaced by a hash of it, so that two
 * runs never share a chain and the same run always finds its own.
 */
export function chainName(runId: string): string {
  if (runId.length === 0) throw new RangeError('chainName needs a run id');
  const room = MAX_CHAIN - CHAIN_PREFIX.length;
  if (/^[A-Za-z0-9_-]+$/.test(runId) && runId.length <= room) return CHAIN_PREFIX + runId;
  return CHAIN_PREFIX + createHash('sha256').update(runId).digest('hex').slice(0, room);
}

/** Our serialization of concurrent changes to one chain (a partition racing a heal). */
const queues = new Map<string, Promise<unknown>>();
function serialized<T>(nf: Netfilter, chain: string, work: () => Promise<T>): Promise<T> {
  const key = `${nf.where}\0${chain}`;
  const next = (queues.get(key) ?? Promise.resolve()).then(work, work);
  const settled = next.catch(() => undefined);
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}

/** The user chains in the filter table. */
async function chains(nf: Netfilter): Promise<string[]> {
  const out = await nf.run(['-S']);
  return out.split('\n').flatMap((l) => {
    const m = /^-N (\S+)$/.exec(l.trim());
    return m ? [m[1]!] : [];
  });
}

/** How many times the built-in chain `from` jumps to `chain`. */
async function hooks(nf: Netfilter, chain: string, from: Hook): Promise<number> {
  const out = await nf.run(['-S', from]);
  return out.split('\n').filter((l) => l.trim() === `-A ${from} -j ${chain}`).length;
}

function assertUid(uid: number, what: string): void {
  if (!(Number.isSafeInteger(uid) && uid >= 0 && uid <= 0xffffffff)) throw new RangeError(`${what} must be a uid (0 to 2^32-1), got ${uid}`);
}

/** Loopback, where owner drops live: the same on the host and in a namespace. */
const OWNER_IFACE = 'lo';

function dropArgs(nf: Netfilter, chain: string, d: Drop): string[] {
  if (d.src !== undefined) assertIpv4(d.src, "a drop's src");
  if (d.dst !== undefined) assertIpv4(d.dst, "a drop's dst");
  if (d.uidOwner === undefined) {
    if (d.src === undefined) throw new RangeError('a drop needs a src (an address) or a uidOwner');
    if (d.dialedBy !== undefined) throw new RangeError("a drop's dialedBy needs a uidOwner");
    return ['-A', chain, ...(nf.inInterface ? ['-i', nf.inInterface] : []), '-s', d.src, ...(d.dst !== undefined ? ['-d', d.dst] : []), '-j', 'DROP'];
  }
  assertUid(d.uidOwner, "a drop's uidOwner");
  if (d.dialedBy !== undefined) {
    assertUid(d.dialedBy, "a drop's dialedBy");
    // The mark is the uid, and connmark 0 is every connection nobody marked.
    if (d.dialedBy === 0) throw new RangeError("a drop's dialedBy cannot be uid 0 (root): its connmark would be that of every unmarked connection");
    if (d.src === undefined) throw new RangeError('a drop with dialedBy needs the src its dialer dials');
  }
  return [
    '-A',
    chain,
    '-o',
    OWNER_IFACE,
    '-m',
    'owner',
    '--uid-owner',
    String(d.uidOwner),
    ...(d.src !== undefined ? ['-s', d.src] : []),
    ...(d.dst !== undefined ? ['-d', d.dst] : []),
    ...(d.dialedBy !== undefined ? ['-m', 'connmark', '--mark', String(d.dialedBy)] : []),
    '-j',
    'DROP',
  ];
}

/**
 * A connection mark for owner drops' `dialedBy`: packets of processes of
 * `uid` to `dst` (so: on connections they opened to `dst`) mark their
 * connection with that uid.
 */
export interface Mark {
  readonly uid: number;
  readonly dst: string;
}

function markRule(chain: string, m: Mark): string[] {
  assertUid(m.uid, "a mark's uid");
  if (m.uid === 0) throw new RangeError('a mark cannot be for uid 0 (root): connmark 0 is every unmarked connection');
  assertIpv4(m.dst, "a mark's dst");
  return ['-A', chain, '-o', OWNER_IFACE, '-m', 'owner', '--uid-owner', String(m.uid), '-d', m.dst, '-j', 'CONNMARK', '--set-xmark', `${m.uid}/0xffffffff`];
}

function dedupeMarks(marks: readonly Mark[]): Mark[] {
  return [...new Map(marks.map((m) => [`${m.uid} ${m.dst}`, m])).values()];
}

/**
 * The marks that `dialedBy` drops rely on, first in their chain (a mark is
 * set even on a packet that a later rule drops). A connection is marked by
 * its opener's next packet after the rule is in place: until then (a
 * delayed ACK, some tens of ms) the other side's packets on it still pass.
 * `installMarks` before the nodes start closes that gap.
 */
function markArgs(chain: string, drops: readonly Drop[]): string[][] {
  const marks = drops.flatMap((d) => (d.dialedBy !== undefined && d.src !== undefined ? [{ uid: d.dialedBy, dst: d.src }] : []));
  return dedupeMarks(marks).map((m) => markRule(chain, m));
}

/** The built-in chain drops hook from: OUTPUT for owner drops, INPUT for address drops, null for none. */
function hookOf(drops: readonly Drop[]): Hook | null {
  const owner = drops.filter((d) => d.uidOwner !== undefined).length;
  if (owner > 0 && owner < drops.length) {
    throw new RangeError('a chain holds drops by owner (hooked from OUTPUT) or by address (hooked from INPUT), not both');
  }
  return drops.length === 0 ? null : owner > 0 ? 'OUTPUT' : 'INPUT';
}

/** Makes CHAIN (created if missing) hold exactly `rules`, hooked first into `want` only (null: the hook it has, INPUT for a new chain). */
function installRules(nf: Netfilter, chain: string, rules: readonly string[][], want: Hook | null): Promise<void> {
  return serialized(nf, chain, async () => {
    if ((await chains(nf)).includes(chain)) await nf.run(['-F', chain]);
    else await nf.run(['-N', chain]);
    const hooked = new Map<Hook, number>();
    for (const h of HOOKS) hooked.set(h, await hooks(nf, chain, h));
    const into = want ?? (hooked.get('OUTPUT')! > 0 && hooked.get('INPUT')! === 0 ? 'OUTPUT' : 'INPUT');
    // Unhook from the other built-in chain before adding rules it cannot take (-o, -m owner in INPUT).
    for (const h of HOOKS) if (h !== into) for (let n = hooked.get(h)!; n > 0; n--) await nf.run(['-D', h, '-j', chain]);
    for (const r of rules) await nf.run(r);
    if (hooked.get(into)! === 0) await nf.run(['-I', into, '1', '-j', chain]);
  });
}

/**
 * Makes CHAIN (created if missing) hold exactly these DROP rules, hooked first
 * into INPUT (drops by address) or OUTPUT (drops by owner). No drops keep the
 * chain's hook (INPUT for a new chain): a healed network with the chain in place.
 */
export async function installDrops(nf: Netfilter, chain: string, drops: readonly Drop[]): Promise<void> {
  assertChain(chain);
  // Validate all before touching anything, so bad input leaves the old partition in force.
  const unique = dedupe(drops);
  const want = hookOf(unique);
  const rules = [...markArgs(chain, unique), ...unique.map((d) => dropArgs(nf, chain, d))];
  return installRules(nf, chain, rules, want);
}

/**
 * Makes CHAIN (a chain of its own, not the partition's) hold exactly these
 * connection marks, hooked from OUTPUT. Installed before the nodes start and
 * kept until teardown (removeChain), every connection between them is marked
 * from its first packet, so a partition's `dialedBy` drops cut the replies at
 * once instead of after the opener's next packet.
 */
export async function installMarks(nf: Netfilter, chain: string, marks: readonly Mark[]): Promise<void> {
  assertChain(chain);
  const rules = dedupeMarks(marks).map((m) => markRule(chain, m));
  return installRules(nf, chain, rules, 'OUTPUT');
}

/** Unhooks (from INPUT and OUTPUT) and deletes CHAIN; fine if it does not exist. */
export async function removeChain(nf: Netfilter, chain: string): Promise<void> {
  assertChain(chain);
  return serialized(nf, chain, async () => {
    for (const h of HOOKS) for (let n = await hooks(nf, chain, h); n > 0; n--) await nf.run(['-D', h, '-j', chain]);
    if ((await chains(nf)).includes(chain)) {
      await nf.run(['-F', chain]);
      await nf.run(['-X', chain]);
    }
  });
}

/** Chains named PREFIX* left by dead runs (the caller knows which runs are alive). */
export async function leftoverChains(nf: Netfilter, prefix: string = CHAIN_PREFIX): Promise<string[]> {
  return (await chains(nf)).filter((c) => c.startsWith(prefix)).sort();
}

function dedupe(drops: readonly Drop[]): Drop[] {
  const seen = new Map<string, Drop>();
  for (const d of drops) seen.set(`${d.src ?? ''} ${d.dst ?? ''} ${d.uidOwner ?? ''} ${d.dialedBy ?? ''}`, d);
  return [...seen.values()];
}

/**
 * The host variant of a grudge: node X drops packets from each node it holds
 * a grudge against, addressed to X. `addressOf` gives a node's IPv4 address.
 */
export function grudgeDrops(grudge: Grudge, addressOf: (node: string) => string): Drop[] {
  const drops: Drop[] = [];
  for (const node of Object.keys(grudge).sort()) {
    const dst = addressOf(node);
    assertIpv4(dst, `the address of ${node}`);
    for (const from of [...grudge[node]!].sort()) {
      if (from === node) continue;
      const src = addressOf(from);
      assertIpv4(src, `the address of ${from}`);
      drops.push({ src, dst });
    }
  }
  return dedupe(drops);
}

/**
 * The owner variant of a grudge, for nodes on loopback that each run as a
 * user of their own and dial from 127.0.0.1: node X drops packets from each
 * node Y it holds a grudge against. Two drops per pair: Y's packets to X's
 * address (connections Y dialed), and Y's packets from its own address on
 * connections X dialed to it (Y's replies; see the top of this file).
 * `uidOf` gives a node's uid, `addressOf` its IPv4 address.
 */
export function ownerDrops(grudge: Grudge, uidOf: (node: string) => number, addressOf: (node: string) => string): Drop[] {
  const drops: Drop[] = [];
  for (const node of Object.keys(grudge).sort()) {
    const dst = addressOf(node);
    assertIpv4(dst, `the address of ${node}`);
    const dialer = uidOf(node);
    assertUid(dialer, `the uid of ${node}`);
    for (const from of [...grudge[node]!].sort()) {
      if (from === node) continue;
      const src = addressOf(from);
      assertIpv4(src, `the address of ${from}`);
      const uid = uidOf(from);
      assertUid(uid, `the uid of ${from}`);
      if (uid === dialer) throw new RangeError(`${node} and ${from} run as the same uid ${uid}: owner rules cannot tell them apart`);
      drops.push({ uidOwner: uid, dst }, { uidOwner: uid, src, dialedBy: dialer });
    }
  }
  return dedupe(drops);
}

/** The marks owner drops of any grudge among `nodes` rely on: each node's connections to every other node's address. */
export function ownerMarks(nodes: readonly string[], uidOf: (node: string) => number, addressOf: (node: string) => string): Mark[] {
  const marks: Mark[] = [];
  for (const from of [...nodes].sort()) {
    for (const to of [...nodes].sort()) {
      if (to === from) continue;
      const dst = addressOf(to);
      assertIpv4(dst, `the address of ${to}`);
      marks.push({ uid: uidOf(from), dst });
    }
  }
  return dedupeMarks(marks);
}

/**
 * The namespace variant, for a node that filters its own INPUT (a container):
 * the sources `node` drops packets from. Install them in that node's
 * namespace; its own address needs no `dst`.
 */
export function nodeDrops(grudge: Grudge, node: string, addressOf: (node: string) => string): Drop[] {
  const drops: Drop[] = [];
  for (const from of [...(grudge[node] ?? [])].sort()) {
    if (from === node) continue;
    const src = addressOf(from);
    assertIpv4(src, `the address of ${from}`);
    drops.push({ src });
  }
  return dedupe(drops);
}

/** Can partitions run here? Root, an iptables binary, and a kernel that takes the filter table. */
export async function iptablesUsable(): Promise<{ ok: true } | { ok: false; why: string }> {
  if (process.getuid?.() !== 0) {
    return {
      ok: false,
      why: `partitions need root to run iptables (this process runs as uid ${process.getuid?.()}): run as root, or in a container with CAP_NET_ADMIN`,
    };
  }
  try {
    await exec('iptables', ['--version'], 'host');
  } catch (e) {
    const missing = (e as Error).message.includes('ENOENT');
    return { ok: false, why: missing ? 'iptables is not installed: apt-get install -y iptables' : `iptables --version failed: ${(e as Error).message}` };
  }
  try {
    await hostNetfilter().run(['-S', 'INPUT']);
  } catch (e) {
    return {
      ok: false,
      why: `iptables cannot read the filter table, so the kernel lacks netfilter support or this container lacks CAP_NET_ADMIN (${(e as Error).message}); with the nft back end failing, try iptables-legacy: update-alternatives --set iptables /usr/sbin/iptables-legacy`,
    };
  }
  return { ok: true };
}
