import { describe, expect, it } from 'vitest';
import { Random } from '../../harness/core/generator/random.js';

const take = (r: Random, n: number) => Array.from({ length: n }, () => r.nextUint32());

describe('Random', () => {
  it('replays the same stream for the same seed, and another for another seed', () => {
    expect(take(Random.seeded(42), 100)).toEqual(take(Random.seeded(42), 100));
    expect(take(Random.seeded(42), 100)).not.toEqual(take(Random.seeded(43), 100));
    // Seeds beyond 32 bits and below zero count in full.
    expect(take(Random.seeded(2 ** 40), 10)).not.toEqual(take(Random.seeded(0), 10));
    expect(take(Random.seeded(-1), 10)).not.toEqual(take(Random.seeded(2 ** 32 - 1), 10));
  });

  it('refuses seeds it cannot represent exactly', () => {
    expect(() => Random.seeded(1.5)).toThrow(RangeError);
    expect(() => Random.seeded(2 ** 60)).toThrow(RangeError);
  });

  it('clones continue identically and independently; copyFrom commits a clone', () => {
    const r = Random.seeded(7);
    r.nextUint32();
    const c = r.clone();
    const fromClone = take(c, 5);
    expect(take(r.clone(), 5)).toEqual(fromClone);
    r.copyFrom(c);
    expect(take(r, 3)).toEqual(take(c, 3));
  });

  it('draws floats in [0, 1) and integers in [0, n), spread evenly', () => {
    const r = Random.seeded(1);
    const counts = new Array(6).fill(0);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < 60_000; i++) {
      const x = r.float();
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
      counts[r.int(6)]++;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    // Each face 10,000 expected; 5 standard deviations is about ±450.
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    expect(() => r.int(0)).toThrow(RangeError);
  });
});
