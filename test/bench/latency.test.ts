// The one latency-quantile module (checkers/latency.ts, HDR histograms)
// against an exact computation: nearest rank over the sorted values.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHistogram, encodeHistogram, histogramOf, latencies, mergeHistograms, quantileMs, quantilesOf, spectrum } from '../../checkers/latency.js';

/** The exact q-quantile: the ceil(q n)-th smallest value. */
const exact = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const QS = [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

describe('HDR latency quantiles', () => {
  it('equal the exact nearest-rank quantiles for whole microseconds below 2048 µs', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 2047 }), { minLength: 1, maxLength: 300 }), fc.constantFrom(...QS), (us, q) => {
        const ms = us.map((u) => u / 1000);
        expect(quantilesOf(ms, [q])[0]).toBeCloseTo(exact(ms, q), 9);
      }),
      { numRuns: 300 },
    );
  });

  it('are within 0.1% of the exact quantiles over a wide range (1 µs to 100 s)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100_000_000 }), { minLength: 1, maxLength: 300 }), fc.constantFrom(...QS), (us, q) => {
        const ms = us.map((u) => u / 1000);
        const want = exact(ms, q);
        const got = quantilesOf(ms, [q])[0];
        expect(Math.abs(got - want) / want).toBeLessThanOrEqual(1e-3);
      }),
      { numRuns: 300 },
    );
  });

  it('small cases by hand: 0.1..1 ms exactly; 1..10 ms to 0.1% (5 ms and 10 ms lie in buckets 4 and 8 µs wide: HDR reports their tops)', () => {
    const l = latencies([0.3, 0.1, 0.2, 1, 0.9, 0.8, 0.4, 0.5, 0.7, 0.6]);
    expect(l).toMatchObject({ count: 10, p50: 0.5, p95: 1, p99: 1, max: 1 });
    expect(l.mean).toBeCloseTo(0.55, 9);
    expect(latencies([3, 1, 2, 10, 9, 8, 4, 5, 7, 6])).toMatchObject({ p50: 5.003, p95: 10.007, max: 10, mean: 5.5 });
    expect(latencies([])).toMatchObject({ count: 0 });
    expect(Number.isNaN(latencies([]).p50)).toBe(true);
  });

  it('survive encoding, and merging two histograms equals one histogram of both inputs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5_000_000 }), { minLength: 1 }),
        fc.array(fc.integer({ min: 1, max: 5_000_000 }), { minLength: 1 }),
        (a, b) => {
          const ha = decodeHistogram(encodeHistogram(histogramOf(a.map((u) => u / 1000))));
          const hb = histogramOf(b.map((u) => u / 1000));
          const merged = mergeHistograms([ha, hb]);
          const both = histogramOf([...a, ...b].map((u) => u / 1000));
          expect(merged.totalCount).toBe(a.length + b.length);
          for (const q of QS) expect(quantileMs(merged, q)).toBe(quantileMs(both, q));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('the percentile spectrum rises from the median to the maximum', () => {
    const h = histogramOf(Array.from({ length: 10_000 }, (_, i) => (i + 1) / 100));
    const s = spectrum(h);
    expect(s[0]).toMatchObject({ percentile: 0 });
    expect(s.find((p) => p.percentile === 50)!.ms).toBeCloseTo(50, 1);
    expect(s.at(-1)).toMatchObject({ percentile: 100, ms: 100 });
    for (let i = 1; i < s.length; i++) {
      expect(s[i].ms).toBeGreaterThanOrEqual(s[i - 1].ms);
      expect(s[i].x).toBeGreaterThan(s[i - 1].x);
    }
  });
});
