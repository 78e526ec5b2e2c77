// `undertow bench compare`'s statistics on synthetic benches: a real 2x
// slowdown stands out, two benches of the same build (same distribution) do
// not; and the exact rank test against numbers worked out by hand.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareBenches, compareText } from '../../harness/bench/compare.js';
import type { BenchResult, PointRecord } from '../../harness/bench/result.js';
import { bootstrapChange, mannWhitneyP, median } from '../../harness/bench/stats.js';

/** A seeded uniform generator, so every trial is the same on every machine. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** A bench of `runs` repeats of two points; every figure is `scale` times a base, with +-`noise` relative noise per run. */
function bench(runs: number, scale: number, noise: number, r: () => number): BenchResult {
  const jitter = () => 1 + (2 * r() - 1) * noise;
  const points: PointRecord[] = [];
  for (let repeat = 0; repeat < runs; repeat++) {
    for (const clients of [4, 16]) {
      const lat = (ms: number) => ms * scale * jitter();
      const latency = { count: 1000, p50: lat(2), p95: lat(5), p99: lat(9), p999: lat(20), max: lat(30), mean: lat(3) };
      points.push({
        id: `closed c=${clients}`,
        mode: 'closed',
        clients,
        rate: null,
        repeat,
        at: repeat * 10,
        ok: 1000,
        fail: 0,
        info: 0,
        unsent: 0,
        throughput: ((clients * 250) / scale) * jitter(),
        latency,
        latencyByF: { read: latency },
        service: latency,
        histograms: {},
        seconds: [],
        cpu: { harnessUsPerOp: 40 * jitter(), clusterUsPerOp: 200 * scale * jitter(), clusterCores: 1, machine: {} },
        errors: {},
      });
    }
  }
  return {
    kind: 'undertow-bench',
    config: {} as BenchResult['config'],
    startedAt: 'x',
    endedAt: 'y',
    interrupted: false,
    failure: null,
    versions: {},
    machine: { cores: 2, cpuModel: 'x', loadavg: [1, 1, 1], totalMemMB: 1, node: 'v20', platform: 'linux', loadAfter: null },
    system: { options: {}, settings: {} },
    points,
  };
}

const where = { a: 'A', b: 'B' };

describe('the rank test, the median and the bootstrap', () => {
  it('exact Mann-Whitney p-values by hand', () => {
    // 3 against 3, completely apart: 2 of the C(6,3) = 20 splits are as extreme.
    expect(mannWhitneyP([1, 2, 3], [4, 5, 6])).toBeCloseTo(0.1, 12);
    // 4 against 4 apart: 2 / 70.
    expect(mannWhitneyP([1, 2, 3, 4], [5, 6, 7, 8])).toBeCloseTo(2 / 70, 12);
    // Interleaved: nothing to see.
    expect(mannWhitneyP([1, 3, 5, 7], [2, 4, 6, 8])).toBeGreaterThan(0.5);
    expect(mannWhitneyP([5, 5, 5], [5, 5, 5])).toBe(1);
    expect(mannWhitneyP([], [1])).toBe(1);
  });

  it('the p-value is symmetric, in (0, 1], and does not depend on the order of the values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 6 }),
        (a, b) => {
          const p = mannWhitneyP(a, b);
          expect(p).toBeGreaterThan(0);
          expect(p).toBeLessThanOrEqual(1);
          expect(mannWhitneyP(b, a)).toBeCloseTo(p, 12);
          expect(mannWhitneyP([...a].reverse(), b)).toBeCloseTo(p, 12);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('median, and a bootstrap interval that holds the observed change', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const [lo, hi] = bootstrapChange([10, 11, 9, 10], [20, 22, 19, 21]);
    expect(lo).toBeGreaterThan(0.6);
    expect(hi).toBeLessThan(1.5);
    expect(lo).toBeLessThanOrEqual(median([20, 22, 19, 21]) / median([10, 11, 9, 10]) - 1);
  });
});

describe('compare', () => {
  it('flags a 2x slowdown (half the throughput, twice the latency) as worse in every figure it touches, with 5 runs a side and +-10% noise', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = rng(seed);
      const c = compareBenches(bench(5, 1, 0.1, r), bench(5, 2, 0.1, r), where);
      const byFigure = (name: string) => c.rows.filter((x) => x.figure === name);
      for (const fig of ['throughput ops/s', 'p50 ms', 'p99 ms', 'p999 ms', 'cluster CPU µs/op']) {
        for (const row of byFigure(fig)) expect(row.verdict, `seed ${seed} ${row.point} ${fig}`).toBe('worse');
      }
      // The harness CPU did not change: not flagged.
      for (const row of byFigure('harness CPU µs/op')) expect(row.verdict, `seed ${seed}`).toBe('same');
    }
    const text = compareText(compareBenches(bench(5, 1, 0.1, rng(1)), bench(5, 2, 0.1, rng(2)), where));
    expect(text).toMatch(/closed c=16\s+throughput ops\/s .* -\d+\.\d%.* worse/);
    expect(text).toMatch(/10 figure\(s\) worse, 0 better/);
  });

  it('with faults: availability and the time until served again are compared too, a slower recovery flagged worse; without, they are left out', () => {
    const withFaults = (b: BenchResult, recoveryS: number | null, availability: number, r: () => number): BenchResult => {
      for (const p of b.points) {
        const f = { f: 'kill', asked: 'primary', did: { node: 'd1' }, stoppedBy: 'start', start: 1, end: 3, servedAgainAt: null, ok: 90, fail: 0, info: 10 };
        const jitter = () => 1 + (2 * r() - 1) * 0.05;
        p.seconds = Array.from({ length: 20 }, () => ({ ok: 1, fail: 0, info: 0, p50: 1, p99: 1, max: 1 }));
        p.faults = [
          { ...f, recoveryS: recoveryS === null ? null : recoveryS * jitter(), availability: availability * jitter(), longestOkMs: 1500, errors: {} },
        ];
      }
      return b;
    };
    const r = rng(3);
    const c = compareBenches(withFaults(bench(5, 1, 0.1, r), 1.5, 0.9, r), withFaults(bench(5, 1, 0.1, r), 4, 0.6, r), where);
    const verdicts = (name: string) => c.rows.filter((x) => x.figure === name).map((x) => x.verdict);
    expect(verdicts('served again s')).toEqual(['worse', 'worse']);
    expect(verdicts('availability %')).toEqual(['worse', 'worse']);
    // Never served again within the point counts as its whole window (20 s here): worse than 1.5 s, not left out.
    const never = compareBenches(withFaults(bench(5, 1, 0.1, r), 1.5, 0.9, r), withFaults(bench(5, 1, 0.1, r), null, 0.9, r), where);
    expect(never.rows.filter((x) => x.figure === 'served again s').map((x) => [x.b, x.verdict])).toEqual([
      ['20.00 (20.00-20.00)', 'worse'],
      ['20.00 (20.00-20.00)', 'worse'],
    ]);
    expect(compareBenches(bench(5, 1, 0.1, r), bench(5, 1, 0.1, r), where).rows.some((x) => x.figure === 'served again s')).toBe(false);
  });

  it('a 2x speed-up is better, not worse', () => {
    const c = compareBenches(bench(5, 2, 0.2, rng(7)), bench(5, 1, 0.2, rng(8)), where);
    expect(c.rows.filter((x) => x.figure === 'throughput ops/s').map((x) => x.verdict)).toEqual(['better', 'better']);
  });

  it('does not flag two benches of the same build: under 0.5% of figures over 100 pairs with +-10% noise', () => {
    let flagged = 0;
    let figures = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const r = rng(seed * 7919);
      const c = compareBenches(bench(5, 1, 0.1, r), bench(5, 1, 0.1, r), where);
      figures += c.rows.length;
      flagged += c.rows.filter((x) => x.verdict !== 'same').length;
    }
    expect(figures).toBe(100 * 12);
    expect(flagged / figures).toBeLessThan(0.005);
  });

  it('says that 3 runs a side cannot show anything at alpha 0.05, and flags nothing then', () => {
    const c = compareBenches(bench(3, 1, 0.05, rng(3)), bench(3, 2, 0.05, rng(4)), where);
    expect(c.notes.join('\n')).toMatch(/cannot reach p < 0.05 .*--repeat 4 or more/);
    expect(c.rows.every((x) => x.verdict === 'same')).toBe(true);
  });
});
