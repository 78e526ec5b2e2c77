// Latency quantiles, in one place: HDR histograms (hdr-histogram-js, Gil
// Tene's HdrHistogram ported to TypeScript). Chosen over sorting every sample
// because a benchmark records millions of latencies: a histogram is a fixed
// few tens of KB whatever the count, merges across runs and op types by
// adding counts, and is stored in bench.json as a compact string, so that
// `undertow bench compare` and the page redraw the whole spectrum later.
//
// Values are recorded in whole microseconds with 3 significant digits: each
// quantile is within 0.1% of the exact nearest-rank quantile (and equal to it
// below 2048 µs, where every microsecond has its own bucket). The rank is the
// nearest rank, as the helpers this module replaced: the q-quantile of n
// values is the ceil(q n)-th smallest.

import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

export type { Histogram };

/** Quantiles of a set of latencies, in milliseconds. */
export interface Latencies {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** An empty latency histogram (microseconds, 3 significant digits, grows as needed). */
export function newHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true, bitBucketSize: 32 });
}

/** Records a latency given in milliseconds (below 1 µs counts as 1 µs: a histogram has no zero bucket worth keeping). */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1000)));
}

/** The q-quantile (0..1) in milliseconds; NaN when empty. */
export function quantileMs(h: Histogram, q: number): number {
  return h.totalCount === 0 ? NaN : h.getValueAtPercentile(q * 100) / 1000;
}

/** The usual figures of a histogram. */
export function summarize(h: Histogram): Latencies {
  return {
    count: h.totalCount,
    p50: quantileMs(h, 0.5),
    p95: quantileMs(h, 0.95),
    p99: quantileMs(h, 0.99),
    p999: quantileMs(h, 0.999),
    max: h.totalCount === 0 ? NaN : h.maxValue / 1000,
    mean: h.totalCount === 0 ? NaN : h.mean / 1000,
  };
}

/** A histogram of latencies given in milliseconds. */
export function histogramOf(ms: Iterable<number>): Histogram {
  const h = newHistogram();
  for (const x of ms) recordMs(h, x);
  return h;
}

/** The figures of a list of latencies (ms): quantiles from the histogram, max and mean exact. */
export function latencies(ms: readonly number[]): Latencies {
  const h = histogramOf(ms);
  const s = summarize(h);
  h.destroy();
  let max = -Infinity;
  let sum = 0;
  for (const x of ms) {
    if (x > max) max = x;
    sum += x;
  }
  return { ...s, max: ms.length === 0 ? NaN : max, mean: ms.length === 0 ? NaN : sum / ms.length };
}

/** The q-quantiles of a list of latencies (ms), through one histogram. */
export function quantilesOf(ms: readonly number[], qs: readonly number[]): number[] {
  const h = histogramOf(ms);
  const out = qs.map((q) => quantileMs(h, q));
  h.destroy();
  return out;
}

/**
 * The percentile spectrum for a plot, as HdrHistogram draws it: the latency
 * (ms) at percentiles 0, 50, 75, 87.5, ... up to 99.9999 and 100, i.e. at
 * evenly spaced values of 1/(1-p) on a log scale. `x` is 1/(1-p), capped.
 */
export function spectrum(h: Histogram): { percentile: number; x: number; ms: number }[] {
  if (h.totalCount === 0) return [];
  const out: { percentile: number; x: number; ms: number }[] = [];
  for (let k = 0; k <= 20; k++) {
    // p = 1 - 2^(-k/2): 0, 29.3, 50, 64.6, 75, ...; stop where fewer than one value lies beyond.
    const p = 1 - Math.pow(2, -k / 2);
    if (k > 0 && (1 - p) * h.totalCount < 1) break;
    out.push({ percentile: round(p * 100, 4), x: round(1 / (1 - p), 4), ms: quantileMs(h, p) });
  }
  out.push({ percentile: 100, x: round(Math.max(2, h.totalCount), 4), ms: h.maxValue / 1000 });
  return out;
}

/** A histogram as a compact string (HdrHistogram's compressed base64), for bench.json. */
export function encodeHistogram(h: Histogram): string {
  return encodeIntoCompressedBase64(h);
}

export function decodeHistogram(s: string): Histogram {
  const h = decodeFromCompressedBase64(s, 32, false);
  h.autoResize = true;
  return h;
}

/** The sum of several histograms (each left as it was). */
export function mergeHistograms(hs: Iterable<Histogram>): Histogram {
  const out = newHistogram();
  for (const h of hs) out.add(h);
  return out;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
