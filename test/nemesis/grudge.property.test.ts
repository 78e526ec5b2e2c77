import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Random } from '../../harness/core/generator/random.js';
import type { Grudge } from '../../harness/core/provider.js';
import {
  bridge,
  complete,
  describeGrudge,
  isolateFromPeers,
  isolateOne,
  majoritiesRing,
  majority,
  normalizeGrudge,
  randomHalves,
  reachableFrom,
  shuffle,
} from '../../nemesis/grudge.js';
import { grudgeDrops, nodeDrops } from '../../nemesis/iptables.js';

/** n1..nN, for n in [lo, hi]. */
const nodesArb = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map((n) => Array.from({ length: n }, (_, i) => `n${i + 1}`));
const seedArb = fc.integer({ min: -(2 ** 40), max: 2 ** 40 });

/** Does a drop b's packets? */
const drops = (g: Grudge, a: string, b: string) => (g[a] ?? []).includes(b);
const symmetric = (g: Grudge, nodes: readonly string[]) => nodes.every((a) => nodes.every((b) => drops(g, a, b) === drops(g, b, a)));
/** Two nodes can talk when neither drops the other. */
const talk = (g: Grudge, a: string, b: string) => !drops(g, a, b) && !drops(g, b, a);
const sorted = (xs: Iterable<string>) => [...xs].sort();

/** Every node with an entry is a node of the cluster, drops only nodes of the cluster, never itself, and has a non-empty sorted list. */
function wellFormed(g: Grudge, nodes: readonly string[]) {
  for (const [n, ds] of Object.entries(g)) {
    expect(nodes).toContain(n);
    expect(ds.length).toBeGreaterThan(0);
    expect(ds).not.toContain(n);
    expect([...ds]).toEqual(sorted(new Set(ds)));
    for (const d of ds) expect(nodes).toContain(d);
  }
}

describe('grudges', () => {
  it('shuffle is a seeded permutation', () => {
    fc.assert(
      fc.property(nodesArb(0, 12), seedArb, (nodes, seed) => {
        const a = shuffle(nodes, Random.seeded(seed));
        expect(sorted(a)).toEqual(sorted(nodes));
        expect(shuffle(nodes, Random.seeded(seed))).toEqual(a);
      }),
    );
  });

  it('complete: each node drops exactly the nodes outside its component, symmetrically', () => {
    const componentsArb = fc.tuple(nodesArb(1, 10), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 10, maxLength: 10 })).map(([nodes, where]) => {
      const comps: string[][] = [[], [], [], []];
      nodes.forEach((n, i) => comps[where[i]!]!.push(n));
      return { nodes, comps: comps.filter((c) => c.length > 0) };
    });
    fc.assert(
      fc.property(componentsArb, ({ nodes, comps }) => {
        const g = complete(comps);
        wellFormed(g, nodes);
        expect(symmetric(g, nodes)).toBe(true);
        for (const comp of comps) for (const n of comp) expect(sorted(reachableFrom(g, nodes, n))).toEqual(sorted(comp));
      }),
    );
    expect(() => complete([['a', 'b'], ['b']])).toThrow(/disjoint/);
  });

  it('randomHalves: two sides of floor(n/2) and ceil(n/2) nodes that cannot talk, each side whole', () => {
    fc.assert(
      fc.property(nodesArb(2, 11), seedArb, (nodes, seed) => {
        const g = randomHalves(nodes, Random.seeded(seed));
        wellFormed(g, nodes);
        expect(symmetric(g, nodes)).toBe(true);
        const side = sorted(reachableFrom(g, nodes, nodes[0]!));
        const other = nodes.filter((n) => !side.includes(n));
        expect([side.length, other.length].sort((x, y) => x - y)).toEqual([Math.floor(nodes.length / 2), Math.ceil(nodes.length / 2)]);
        for (const a of side) for (const b of other) expect(talk(g, a, b)).toBe(false);
        for (const a of side) expect(sorted(reachableFrom(g, nodes, a))).toEqual(side);
        for (const b of other) expect(sorted(reachableFrom(g, nodes, b))).toEqual(sorted(other));
        // The seed decides the halves.
        expect(randomHalves(nodes, Random.seeded(seed))).toEqual(g);
      }),
    );
  });

  it('isolateOne: the node talks to no one, everyone else to everyone else', () => {
    fc.assert(
      fc.property(nodesArb(2, 11), fc.nat(), (nodes, k) => {
        const node = nodes[k % nodes.length]!;
        const g = isolateOne(nodes, node);
        wellFormed(g, nodes);
        expect(symmetric(g, nodes)).toBe(true);
        expect(reachableFrom(g, nodes, node)).toEqual([node]);
        const rest = nodes.filter((n) => n !== node);
        for (const n of rest) expect(sorted(reachableFrom(g, nodes, n))).toEqual(sorted(rest));
      }),
    );
    expect(() => isolateOne(['a', 'b'], 'c')).toThrow(/not one of the nodes/);
  });

  it('isolateFromPeers: the node and its peers are cut apart, every other pair untouched', () => {
    fc.assert(
      fc.property(nodesArb(2, 11), fc.nat(), fc.array(fc.boolean(), { minLength: 11, maxLength: 11 }), (nodes, k, isPeer) => {
        const node = nodes[k % nodes.length]!;
        const peers = nodes.filter((n, i) => n !== node && isPeer[i]);
        const g = isolateFromPeers(node, peers);
        wellFormed(g, nodes);
        expect(symmetric(g, nodes)).toBe(true);
        for (const a of nodes)
          for (const b of nodes) {
            if (a === b) continue;
            const cut = (a === node && peers.includes(b)) || (b === node && peers.includes(a));
            expect(talk(g, a, b)).toBe(!cut);
          }
        // Only the node and its peers hold grudges: clients and others reach it.
        expect(sorted(Object.keys(g))).toEqual(peers.length > 0 ? sorted([node, ...peers]) : []);
      }),
    );
  });

  it('majoritiesRing: every node sees a majority including itself, and no two see the same one', () => {
    fc.assert(
      fc.property(nodesArb(3, 11), seedArb, (nodes, seed) => {
        const g = majoritiesRing(nodes, Random.seeded(seed));
        wellFormed(g, nodes);
        const views = nodes.map((n) => {
          const sees = reachableFrom(g, nodes, n);
          expect(sees).toContain(n);
          expect(sees.length).toBe(majority(nodes.length));
          return sorted(sees).join(' ');
        });
        expect(new Set(views).size).toBe(nodes.length);
      }),
    );
    expect(() => majoritiesRing(['a', 'b'], Random.seeded(1))).toThrow(/at least 3/);
  });

  it('majoritiesRing on 5 nodes is the classic ring: each node talks both ways with exactly its two neighbours', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
        const g = majoritiesRing(nodes, Random.seeded(seed));
        expect(symmetric(g, nodes)).toBe(true);
        for (const n of nodes) expect(nodes.filter((m) => m !== n && talk(g, n, m)).length).toBe(2);
      }),
    );
  });

  it('bridge: two sides that cannot talk, and one bridge node that talks to everyone', () => {
    fc.assert(
      fc.property(nodesArb(3, 11), seedArb, (nodes, seed) => {
        const g = bridge(nodes, Random.seeded(seed));
        wellFormed(g, nodes);
        expect(symmetric(g, nodes)).toBe(true);
        const bridges = nodes.filter((n) => nodes.every((m) => talk(g, n, m)));
        expect(bridges.length).toBe(1);
        const b = bridges[0]!;
        expect(g[b]).toBeUndefined();
        // Without the bridge, the rest falls into exactly two sides with no link between them.
        const rest = nodes.filter((n) => n !== b);
        const sideA = rest.filter((n) => talk(g, rest[0]!, n));
        const sideB = rest.filter((n) => !sideA.includes(n));
        const sizes = [sideA.length, sideB.length].sort((x, y) => x - y);
        const halves = [Math.floor(nodes.length / 2), Math.ceil(nodes.length / 2) - 1].sort((x, y) => x - y);
        expect(sizes).toEqual(halves);
        for (const x of sideA) for (const y of sideA) expect(talk(g, x, y)).toBe(true);
        for (const x of sideB) for (const y of sideB) expect(talk(g, x, y)).toBe(true);
        for (const x of sideA) for (const y of sideB) expect(talk(g, x, y)).toBe(false);
      }),
    );
    expect(() => bridge(['a', 'b'], Random.seeded(1))).toThrow(/at least 3/);
  });

  it('grudgeDrops and nodeDrops carry exactly the directed pairs of any grudge', () => {
    const ip = (n: string) => `127.0.0.${Number(n.slice(1))}`;
    const grudgeArb = nodesArb(1, 8).chain((nodes) =>
      fc.tuple(fc.constant(nodes), fc.dictionary(fc.constantFrom(...nodes), fc.subarray(nodes), { maxKeys: nodes.length })),
    );
    fc.assert(
      fc.property(grudgeArb, ([nodes, raw]) => {
        const g = normalizeGrudge(raw);
        const want = nodes.flatMap((to) => (g[to] ?? []).map((from) => `${ip(from)}>${ip(to)}`)).sort();
        expect(
          grudgeDrops(raw, ip)
            .map((d) => `${d.src}>${d.dst}`)
            .sort(),
        ).toEqual(want);
        for (const n of nodes)
          expect(
            nodeDrops(raw, n, ip)
              .map((d) => d.src)
              .sort(),
          ).toEqual((g[n] ?? []).map(ip).sort());
      }),
    );
  });

  it('describeGrudge: one line naming every drop, or "no partition"', () => {
    expect(describeGrudge({})).toBe('no partition');
    expect(describeGrudge(isolateOne(['n1', 'n2', 'n3'], 'n2'))).toBe('n1 drops n2; n2 drops n1 n3; n3 drops n2');
    fc.assert(
      fc.property(nodesArb(2, 9), seedArb, (nodes, seed) => {
        const g = randomHalves(nodes, Random.seeded(seed));
        const line = describeGrudge(g);
        expect(line).not.toContain('\n');
        for (const [n, ds] of Object.entries(g)) expect(line).toContain(`${n} drops ${ds.join(' ')}`);
      }),
    );
  });
});
