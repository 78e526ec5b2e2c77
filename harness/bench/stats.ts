// The statistics a benchmark comparison needs, over a handful of numbers (one
// per repeat of a bench): the median, the Mann-Whitney rank test and a
// bootstrap interval. Small samples are the normal case (3 to 10 runs), so the
// rank test is exact (every split of the pooled ranks counted), not the normal
// approximation, which is poor below about 8 a side.

/** The median: the middle value, or the mean of the two middle values. NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The two-sided p-value of the Mann-Whitney U test (Wilcoxon rank-sum) that
 * `a` and `b` come from the same distribution, against one tending to give
 * larger values than the other. Exact: the U statistic (ties counting one
 * half) is compared with its distribution over every way of choosing which
 * |a| of the pooled values belong to `a`, as long as there are at most
 * 2^16 such ways; beyond that, the normal approximation with a tie
 * correction. 1 when either side is empty.
 */
export function mannWhitneyP(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return 1;
  const u = uStatistic(a, b);
  const mean = (n * m) / 2;
  const pooled = [...a, ...b];
  if (binomial(n + m, n) <= 1 << 16) {
    // Count the splits whose U is at least as far from the mean as the observed one.
    const dev = Math.abs(u - mean) - 1e-9;
    let extreme = 0;
    let total = 0;
    const pick: number[] = [];
    const rest = (chosen: Set<number>) => pooled.filter((_, i) => !chosen.has(i));
    const walk = (from: number) => {
      if (pick.length === n) {
        total++;
        const chosen = new Set(pick);
        if (
          Math.abs(
            uStatistic(
              pick.map((i) => pooled[i]),
              rest(chosen),
            ) - mean,
          ) >= dev
        )
          extreme++;
        return;
      }
      for (let i = from; i <= pooled.length - (n - pick.length); i++) {
        pick.push(i);
        walk(i + 1);
        pick.pop();
      }
    };
    walk(0);
    return extreme / total;
  }
  const ties = tieTerm(pooled);
  const sd = Math.sqrt(((n * m) / 12) * (n + m + 1 - ties / ((n + m) * (n + m - 1))));
  if (sd === 0) return 1;
  const z = (Math.abs(u - mean) - 0.5) / sd;
  return Math.min(1, 2 * (1 - normalCdf(Math.max(0, z))));
}

/** U of `a`: the pairs (x in a, y in b) with x > y, ties counting one half. */
function uStatistic(a: readonly number[], b: readonly number[]): number {
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  return u;
}

function tieTerm(xs: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  let t = 0;
  for (const c of counts.values()) t += c * c * c - c;
  return t;
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** The standard normal CDF (Abramowitz and Stegun 7.1.26, error below 1.5e-7). */
function normalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/** A small seeded generator (mulberry32), so that an interval is the same every time it is computed. */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A percentile bootstrap interval of the relative change of the median from
 * `a` to `b`, median(b)/median(a) - 1: each side resampled with replacement
 * `rounds` times. With 3 to 5 values a side it is narrower than the truth
 * (a resample cannot leave the observed range), which is why a comparison
 * also asks the rank test.
 */
export function bootstrapChange(a: readonly number[], b: readonly number[], level = 0.95, rounds = 2000, seed = 1): [number, number] {
  if (a.length === 0 || b.length === 0) return [NaN, NaN];
  const rnd = mulberry32(seed);
  const resample = (xs: readonly number[]) => xs.map(() => xs[Math.floor(rnd() * xs.length)]);
  const changes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const ma = median(resample(a));
    const mb = median(resample(b));
    changes.push(ma === 0 ? (mb === 0 ? 0 : Infinity) : mb / ma - 1);
  }
  changes.sort((x, y) => x - y);
  const lo = changes[Math.floor(((1 - level) / 2) * rounds)];
  const hi = changes[Math.min(rounds - 1, Math.ceil(((1 + level) / 2) * rounds) - 1)];
  return [lo, hi];
}
