// `undertow bench compare A B`: two benches point by point and figure by
// figure, each figure a sample of `--repeat` values a side. A change stands
// out from run-to-run noise when three things hold, as benchstat's rule plus
// a floor:
//   - the exact Mann-Whitney rank test says the two samples differ (p < alpha);
//   - the bootstrap 95% interval of the change of the medians excludes zero;
//   - the change of the medians is larger than the run-to-run spread of
//     either side ((max - min) / median over its runs) and at least
//     `threshold` (default 10%): on a shared machine separate runs of one
//     build drift by that much, and with a dozen figures per point the rank
//     test alone would flag one of them in a good share of same-build
//     comparisons by chance.
// With 3 runs a side the smallest two-sided p is 0.1 (complete separation):
// nothing can stand out at alpha 0.05 with fewer than 4 runs a side, and the
// comparison says so instead of guessing.

import { FIGURES, pointsById, valuesOf, type BenchResult } from './result.js';
import { bootstrapChange, mannWhitneyP, median } from './stats.js';

export interface CompareOptions {
  alpha: number;
  threshold: number;
}

export interface CompareRow {
  point: string;
  figure: string;
  a: string;
  b: string;
  change: string;
  interval: string;
  p: string;
  /** worse / better: stands out from the noise; same: does not; n/a: a side has no values. */
  verdict: 'worse' | 'better' | 'same' | 'n/a';
  /** median(B)/median(A) - 1. */
  relative: number;
}

export interface Comparison {
  a: { dir: string; label: string; runs: number };
  b: { dir: string; label: string; runs: number };
  rows: CompareRow[];
  rule: string;
  notes: string[];
}

const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%` : '-');
const show = (xs: number[]) => {
  if (xs.length === 0) return '-';
  const d = Math.abs(median(xs)) >= 100 ? 0 : 2;
  return xs.length === 1 ? xs[0].toFixed(d) : `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)})`;
};

export function compareBenches(
  a: BenchResult,
  b: BenchResult,
  where: { a: string; b: string },
  o: CompareOptions = { alpha: 0.05, threshold: 0.1 },
): Comparison {
  const pa = pointsById(a);
  const pb = pointsById(b);
  const rows: CompareRow[] = [];
  const notes: string[] = [];
  // Availability and recovery only when a bench had faults: rows of nothing would crowd every other comparison.
  const faulted = [a, b].some((x) => x.points.some((p) => (p.faults ?? []).length > 0));
  const figures = FIGURES.filter((f) => f.faults !== true || faulted);
  for (const [id, as] of pa) {
    const bs = pb.get(id);
    if (!bs) {
      notes.push(`point ${id} is only in A`);
      continue;
    }
    for (const fig of figures) {
      const xa = valuesOf(as, fig.of);
      const xb = valuesOf(bs, fig.of);
      if (xa.length === 0 || xb.length === 0) {
        rows.push({ point: id, figure: fig.name, a: show(xa), b: show(xb), change: '-', interval: '-', p: '-', verdict: 'n/a', relative: NaN });
        continue;
      }
      const ma = median(xa);
      const relative = ma === 0 ? (median(xb) === 0 ? 0 : Infinity) : median(xb) / ma - 1;
      const [lo, hi] = bootstrapChange(xa, xb);
      const p = mannWhitneyP(xa, xb);
      const spreadOf = (xs: number[]) => (median(xs) === 0 ? 0 : (Math.max(...xs) - Math.min(...xs)) / Math.abs(median(xs)));
      const noise = Math.max(spreadOf(xa), spreadOf(xb));
      const stands = p < o.alpha && (lo > 0 || hi < 0) && Math.abs(relative) >= Math.max(o.threshold, noise);
      const worse = fig.better === 'higher' ? relative < 0 : relative > 0;
      rows.push({
        point: id,
        figure: fig.name,
        a: show(xa),
        b: show(xb),
        change: pct(relative),
        interval: `${pct(lo)} .. ${pct(hi)}`,
        p: p.toFixed(3),
        verdict: stands ? (worse ? 'worse' : 'better') : 'same',
        relative,
      });
    }
  }
  for (const id of pb.keys()) if (!pa.has(id)) notes.push(`point ${id} is only in B`);
  const runs = (x: BenchResult) => Math.min(...[...pointsById(x).values()].map((ps) => ps.length));
  const ra = pa.size > 0 ? runs(a) : 0;
  const rb = pb.size > 0 ? runs(b) : 0;
  // The smallest p the exact test can give with these sample sizes: 2 / C(n+m, n).
  let splits = 1;
  for (let i = 1; i <= ra; i++) splits = (splits * (rb + i)) / i;
  if (2 / splits >= o.alpha)
    notes.push(
      `with ${ra} and ${rb} runs a point, the rank test cannot reach p < ${o.alpha} (its smallest p is ${(2 / splits).toFixed(3)}): nothing can stand out; bench with --repeat 4 or more`,
    );
  const m = (x: BenchResult) => `${x.machine.cores} cores, load ${x.machine.loadavg.join(' ')}`;
  if (m(a) !== m(b)) notes.push(`machines: A ${m(a)}; B ${m(b)}`);
  return {
    a: { dir: where.a, label: `${a.config.name} ${a.startedAt}`, runs: ra },
    b: { dir: where.b, label: `${b.config.name} ${b.startedAt}`, runs: rb },
    rows,
    rule: `a change stands out when the Mann-Whitney rank test gives p < ${o.alpha}, the bootstrap 95% interval of the change of the medians excludes 0, and the change is at least ${(o.threshold * 100).toFixed(0)}% and larger than the range of either side's runs (relative to its median)`,
    notes,
  };
}

export function compareText(c: Comparison): string {
  const header = ['point', 'figure', 'A', 'B', 'change', '95% interval', 'p', ''];
  const rows = c.rows.map((r) => [r.point, r.figure, r.a, r.b, r.change, r.interval, r.p, r.verdict === 'same' ? '~' : r.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((x, i) => (i < 2 ? x.padEnd(widths[i]) : x.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const worse = c.rows.filter((r) => r.verdict === 'worse').length;
  const better = c.rows.filter((r) => r.verdict === 'better').length;
  return [
    `A: ${c.a.dir} (${c.a.runs} runs a point)`,
    `B: ${c.b.dir} (${c.b.runs} runs a point)`,
    `${c.rule}; ~: within the noise`,
    ...c.notes.map((n) => `note: ${n}`),
    '',
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    '',
    `${worse} figure(s) worse, ${better} better, ${c.rows.length - worse - better} within the noise or not comparable`,
    '',
  ].join('\n');
}
