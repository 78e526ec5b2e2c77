// Grudges after Jepsen's jepsen.nemesis: for each node, the nodes whose
// packets it drops. Pure: the seeded `Random` makes every random choice, so a
// test's seed decides its partitions. Grudges come out normalized (nodes with
// nothing to drop are left out, lists sorted) so that equal partitions compare
// equal and read the same in nemesis.jsonl.

import type { Random } from '../harness/core/generator/random.js';
import type { Grudge } from '../harness/core/provider.js';

export type { Grudge };

/** Fisher-Yates with the harness's seeded PRNG. */
export function shuffle<T>(items: readonly T[], random: Random): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function assertDistinct(nodes: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n)) throw new RangeError(`${what}: node ${n} appears twice`);
    seen.add(n);
  }
}

/** Drops empty entries and sorts, so that equal grudges are deep-equal. */
export function normalizeGrudge(g: Readonly<Record<string, Iterable<string>>>): Grudge {
  const out: Record<string, string[]> = {};
  for (const node of Object.keys(g).sort()) {
    const drops = [...new Set(g[node]!)].filter((d) => d !== node).sort();
    if (drops.length > 0) out[node] = drops;
  }
  return out;
}

/** Every node drops every node outside its own component (Jepsen's complete-grudge). */
export function complete(components: readonly (readonly string[])[]): Grudge {
  assertDistinct(components.flat(), 'complete(components): components must be disjoint');
  const all = components.flat();
  const g: Record<string, string[]> = {};
  for (const comp of components) {
    const inside = new Set(comp);
    const outside = all.filter((n) => !inside.has(n));
    for (const n of comp) g[n] = outside;
  }
  return normalizeGrudge(g);
}

/** Two random halves that cannot talk to each other; the first (smaller when odd) half has floor(n/2) nodes. */
export function randomHalves(nodes: readonly string[], random: Random): Grudge {
  assertDistinct(nodes, 'randomHalves');
  const s = shuffle(nodes, random);
  const half = Math.floor(s.length / 2);
  return complete([s.slice(0, half), s.slice(half)]);
}

/** `node` alone on one side, everyone else on the other. */
export function isolateOne(nodes: readonly string[], node: string): Grudge {
  assertDistinct(nodes, 'isolateOne');
  if (!nodes.includes(node)) throw new RangeError(`isolateOne: ${node} is not one of the nodes (${nodes.join(', ')})`);
  return complete([[node], nodes.filter((n) => n !== node)]);
}

/**
 * `node` and `peers` cannot reach each other; every other pair, and the
 * harness's clients, still can. Isolates a group's primary from its
 * secondaries while the CM (and clients) still reach it.
 */
export function isolateFromPeers(node: string, peers: readonly string[]): Grudge {
  assertDistinct(peers, 'isolateFromPeers');
  const others = peers.filter((p) => p !== node);
  const g: Record<string, string[]> = { [node]: others };
  for (const p of others) g[p] = [node];
  return normalizeGrudge(g);
}

/** A strict majority of n. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * Jepsen's majorities-ring: the nodes in a random ring, each seeing the
 * majority-sized window of the ring centred on itself. Every node sees a
 * majority (itself included) and no two see the same one, so no majority
 * agrees on who is in it. Not symmetric in general (n = 3, or n even with an
 * odd window). Needs n >= 3: with two nodes the only majority is both.
 */
export function majoritiesRing(nodes: readonly string[], random: Random): Grudge {
  assertDistinct(nodes, 'majoritiesRing');
  const n = nodes.length;
  if (n < 3) throw new RangeError(`majoritiesRing needs at least 3 nodes, got ${n}`);
  const ring = shuffle(nodes, random);
  const m = majority(n);
  const before = Math.floor((m - 1) / 2);
  const g: Record<string, string[]> = {};
  ring.forEach((node, i) => {
    const sees = new Set<string>();
    for (let k = 0; k < m; k++) sees.add(ring[(i - before + k + n) % n]!);
    g[node] = ring.filter((o) => !sees.has(o));
  });
  return normalizeGrudge(g);
}

/**
 * Two halves that cannot talk to each other but both talk to one bridge node
 * (Jepsen's bridge): a random ring cut in two, the bridge being the first node
 * of the second half. Needs n >= 3.
 */
export function bridge(nodes: readonly string[], random: Random): Grudge {
  assertDistinct(nodes, 'bridge');
  if (nodes.length < 3) throw new RangeError(`bridge needs at least 3 nodes, got ${nodes.length}`);
  const s = shuffle(nodes, random);
  const half = Math.floor(s.length / 2);
  const [left, right] = [s.slice(0, half), s.slice(half)];
  const theBridge = right[0]!;
  const g: Record<string, string[]> = {};
  for (const n of left) g[n] = right.filter((r) => r !== theBridge);
  for (const n of right) if (n !== theBridge) g[n] = left;
  return normalizeGrudge(g);
}

/** The nodes that `node` can still hear from (itself included), given the nodes of the cluster. */
export function reachableFrom(g: Grudge, nodes: readonly string[], node: string): string[] {
  const dropped = new Set(g[node] ?? []);
  return nodes.filter((n) => !dropped.has(n));
}

/** One line for logs and nemesis.jsonl: "n1 drops n2 n3; n2 drops n1", or "no partition". */
export function describeGrudge(g: Grudge): string {
  const parts = Object.keys(g)
    .sort()
    .filter((n) => (g[n] ?? []).length > 0)
    .map((n) => `${n} drops ${[...g[n]!].sort().join(' ')}`);
  return parts.length === 0 ? 'no partition' : parts.join('; ');
}
