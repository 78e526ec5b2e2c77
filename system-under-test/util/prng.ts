// A tiny seeded PRNG (mulberry32), the reference system's own (the harness has
// its own `Random`, xoshiro128**, in harness/core/generator/random.ts: the
// system under test never imports the harness). Protocol code never calls Math.random: it is
// handed a `Prng`, so a simulation run is a pure function of its seed.

export interface Prng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** A uniformly chosen element; the array must be non-empty. */
  pick<T>(items: readonly T[]): T;
  /** A new independent stream derived from this one (for a sub-component). */
  fork(): Prng;
}

export function mulberry32(seed: number): Prng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Prng = {
    next,
    int(lo, hi) {
      if (!(hi >= lo)) throw new RangeError(`int(${lo}, ${hi}): empty range`);
      return lo + Math.floor(next() * (hi - lo + 1));
    },
    chance(p) {
      return next() < p;
    },
    pick(items) {
      if (items.length === 0) throw new RangeError('pick from an empty array');
      return items[Math.floor(next() * items.length)];
    },
    fork() {
      return mulberry32(Math.floor(next() * 4294967296));
    },
  };
  return rng;
}
