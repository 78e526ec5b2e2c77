// Partitions with iptables. A run owns one chain (UNDERTOW-<run>), hooked
// first into INPUT; a partition is that chain holding exactly the DROP rules
// of the current grudge, and healing is removing the chain. Working on a
// chain of our own keeps every rule of the run in one place: nothing of
// anyone else's is ever touched, and a dead run's leftovers are found by name.
//
// Where the rules go is a `Netfilter`: the host (the local provider: nodes on
// 127.0.0.x, whose packets to each other traverse INPUT on lo) or a process's
// network namespace (the Docker provider: each container filters its own
// INPUT). Existence checks parse `iptables -S` instead of error messages,
// which differ between the nft and legacy back ends.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Grudge } from '../harness/provider.js';

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

/** Drop packets from `src` (to `dst` when given). */
export interface Drop {
  readonly src: string;
  readonly dst?: string;
}

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

/** How many times INPUT jumps to `chain`. */
async function hooks(nf: Netfilter, chain: string): Promise<number> {
  const out = await nf.run(['-S', 'INPUT']);
  return out.split('\n').filter((l) => l.trim() === `-A INPUT -j ${chain}`).length;
}

function dropArgs(nf: Netfilter, chain: string, d: Drop): string[] {
  assertIpv4(d.src, 'a drop\'s src');
  if (d.dst !== undefined) assertIpv4(d.dst, 'a drop\'s dst');
  return [
    '-A', chain,
    ...(nf.inInterface ? ['-i', nf.inInterface] : []),
    '-s', d.src,
    ...(d.dst !== undefined ? ['-d', d.dst] : []),
    '-j', 'DROP',
  ];
}

/** Makes CHAIN (created if missing, hooked first into INPUT) hold exactly these DROP rules. */
export async function installDrops(nf: Netfilter, chain: string, drops: readonly Drop[]): Promise<void> {
  assertChain(chain);
  // Validate all before touching anything, so bad input leaves the old partition in force.
  const rules = dedupe(drops).map((d) => dropArgs(nf, chain, d));
  return serialized(nf, chain, async () => {
    if ((await chains(nf)).includes(chain)) await nf.run(['-F', chain]);
    else await nf.run(['-N', chain]);
    for (const r of rules) await nf.run(r);
    if ((await hooks(nf, chain)) === 0) await nf.run(['-I', 'INPUT', '1', '-j', chain]);
  });
}

/** Unhooks and deletes CHAIN; fine if it does not exist. */
export async function removeChain(nf: Netfilter, chain: string): Promise<void> {
  assertChain(chain);
  return serialized(nf, chain, async () => {
    for (let n = await hooks(nf, chain); n > 0; n--) await nf.run(['-D', 'INPUT', '-j', chain]);
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
  for (const d of drops) seen.set(`${d.src} ${d.dst ?? ''}`, d);
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
    return { ok: false, why: `partitions need root to run iptables (this process runs as uid ${process.getuid?.()}): run as root, or in a container with CAP_NET_ADMIN` };
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
