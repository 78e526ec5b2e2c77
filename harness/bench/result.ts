// bench.json: a bench as plain data. Every point of every repeat with its
// figures, its histograms (HDR, compressed) and its seconds; the settings;
// the machine. The text table, bench.html and `undertow bench compare` all
// read this and nothing else, so a stored bench can be redrawn and compared
// later.

import { encodeHistogram, mergeHistograms, summarize, spectrum, decodeHistogram, type Latencies } from '../../checkers/latency.js';
import type { BenchConfig } from './config.js';
import type { PointMeasurement } from './loop.js';
import type { MachineFacts } from './machine.js';
import { describeFault, type FaultRecord } from './availability.js';
import { median } from './stats.js';

export interface PointRecord {
  /** What the point is, the same across repeats: "closed c=16", "open 2000/s". */
  id: string;
  mode: 'closed' | 'open';
  /** Clients (closed: the concurrency; open: the pool). */
  clients: number;
  /** Open loop: ops per second due; null for a closed loop. */
  rate: number | null;
  repeat: number;
  /** Seconds from the bench's start to the start of this point's window. */
  at: number;
  ok: number;
  fail: number;
  info: number;
  unsent: number;
  throughput: number;
  /** Latency of ok ops (ms): of all, and per op type. From the intended start in an open loop. */
  latency: Latencies;
  latencyByF: Record<string, Latencies>;
  /** From sending to the answer (ms). */
  service: Latencies;
  /** HDR histograms (µs), compressed: latency and service time per op type. */
  histograms: Record<string, { latency: string; service: string }>;
  /** Per second of the window: ok, fail and info completions, and the ok ops' latency quantiles (ms). */
  seconds: { ok: number; fail: number; info: number; p50: number | null; p99: number | null; max: number | null }[];
  /** µs of CPU per op: this process (the harness and its clients), and the cluster's processes (local provider). */
  cpu: { harnessUsPerOp: number | null; clusterUsPerOp: number | null; clusterCores: number | null; machine: Record<string, number> };
  errors: Record<string, number>;
  /** With --nemesis: the faults in this point's window and what each did to the clients (faults.ts, availability.ts). */
  faults?: FaultRecord[];
}

export interface BenchResult {
  kind: 'undertow-bench';
  config: BenchConfig;
  startedAt: string;
  endedAt: string | null;
  interrupted: boolean;
  failure: string | null;
  versions: Record<string, string>;
  machine: MachineFacts & { loadAfter: number[] | null };
  system: { options: Record<string, string>; settings: unknown };
  points: PointRecord[];
}

const finite = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);

export function pointRecord(
  m: PointMeasurement,
  o: { repeat: number; at: number; durationS: number; machine: Record<string, number>; clusterCpuS: number; faults?: FaultRecord[] },
): PointRecord {
  const mode = m.mode;
  const all = mergeHistograms([...m.byF.values()].map((h) => h.latency));
  const service = mergeHistograms([...m.byF.values()].map((h) => h.service));
  const counted = m.ok + m.fail + m.info;
  const record: PointRecord = {
    id: pointId(mode.kind, mode.kind === 'closed' ? mode.concurrency : mode.clients, mode.kind === 'open' ? mode.rate : null),
    mode: mode.kind,
    clients: mode.kind === 'closed' ? mode.concurrency : mode.clients,
    rate: mode.kind === 'open' ? mode.rate : null,
    repeat: o.repeat,
    at: Math.round(o.at * 1000) / 1000,
    ok: m.ok,
    fail: m.fail,
    info: m.info,
    unsent: m.unsent,
    throughput: Math.round(m.throughput * 10) / 10,
    latency: summarize(all),
    latencyByF: Object.fromEntries([...m.byF].map(([f, h]) => [f, summarize(h.latency)])),
    service: summarize(service),
    histograms: Object.fromEntries([...m.byF].map(([f, h]) => [f, { latency: encodeHistogram(h.latency), service: encodeHistogram(h.service) }])),
    seconds: m.seconds.map((s) => {
      const l = summarize(s.latency);
      return { ok: s.ok, fail: s.fail, info: s.info, p50: finite(l.p50), p99: finite(l.p99), max: finite(l.max) };
    }),
    cpu: {
      harnessUsPerOp: finite(m.harnessCpuUsPerOp),
      clusterUsPerOp: counted > 0 ? finite((o.clusterCpuS * 1e6) / counted) : null,
      clusterCores: finite(o.clusterCpuS / o.durationS),
      machine: o.machine,
    },
    errors: m.errors,
    ...(o.faults !== undefined ? { faults: o.faults } : {}),
  };
  all.destroy();
  service.destroy();
  return record;
}

export const pointId = (mode: 'closed' | 'open', clients: number, rate: number | null): string =>
  mode === 'closed' ? `closed c=${clients}` : `open ${rate}/s (${clients} clients)`;

/** The mean of a point's faults' values (those it has), or null. */
const overFaults = (p: PointRecord, of: (f: FaultRecord) => number | null): number | null => {
  const xs = (p.faults ?? []).map(of).filter((x): x is number => x !== null);
  return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
};

/** The figures a comparison looks at, per point, and which way is better; `faults`: only when a bench had faults. */
export const FIGURES: readonly { name: string; better: 'higher' | 'lower'; of: (p: PointRecord) => number | null; faults?: true }[] = [
  { name: 'throughput ops/s', better: 'higher', of: (p) => p.throughput },
  { name: 'p50 ms', better: 'lower', of: (p) => p.latency.p50 },
  { name: 'p99 ms', better: 'lower', of: (p) => p.latency.p99 },
  { name: 'p999 ms', better: 'lower', of: (p) => p.latency.p999 },
  { name: 'harness CPU µs/op', better: 'lower', of: (p) => p.cpu.harnessUsPerOp },
  { name: 'cluster CPU µs/op', better: 'lower', of: (p) => p.cpu.clusterUsPerOp },
  // Per point, the mean over its faults; a fault not served again within its point counts as the whole window.
  { name: 'availability %', better: 'higher', of: (p) => overFaults(p, (f) => (f.availability === null ? null : 100 * f.availability)), faults: true },
  { name: 'served again s', better: 'lower', of: (p) => overFaults(p, (f) => f.recoveryS ?? p.seconds.length), faults: true },
];

/** The points of a bench by id, in the order they first ran, each with its repeats. */
export function pointsById(b: BenchResult): Map<string, PointRecord[]> {
  const out = new Map<string, PointRecord[]>();
  for (const p of b.points) {
    const list = out.get(p.id) ?? [];
    list.push(p);
    out.set(p.id, list);
  }
  return out;
}

/** A figure's values over the repeats of a point (missing ones left out). */
export const valuesOf = (ps: readonly PointRecord[], of: (p: PointRecord) => number | null): number[] =>
  ps.map(of).filter((v): v is number => v !== null && Number.isFinite(v));

/** Every repeat's histograms of a point added up: the point's latency over all its runs. */
export function mergedLatency(ps: readonly PointRecord[]): ReturnType<typeof mergeHistograms> {
  const hs = ps.flatMap((p) => Object.values(p.histograms).map((h) => decodeHistogram(h.latency)));
  const merged = mergeHistograms(hs);
  for (const h of hs) h.destroy();
  return merged;
}

/** The percentile spectrum of a point over all its repeats. */
export function pointSpectrum(ps: readonly PointRecord[]): ReturnType<typeof spectrum> {
  const h = mergedLatency(ps);
  const s = spectrum(h);
  h.destroy();
  return s;
}

const fmt = (x: number | null | undefined, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

/** A figure over repeats as "median (min-max)", or the value alone for one repeat. */
export function spread(values: readonly number[], digits: number): string {
  if (values.length === 0) return '-';
  if (values.length === 1) return fmt(values[0], digits);
  return `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}-${fmt(Math.max(...values), digits)})`;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return `${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`;
}

/** A column of the figures table, per point over its repeats: the text summary's and bench.html's. */
export interface PointColumn {
  head: string;
  cell: (ps: readonly PointRecord[]) => string;
  /** In the text summary too (bench.html has every column). */
  inText: boolean;
}

const median3 = (of: (p: PointRecord) => number | null, digits: number) => (ps: readonly PointRecord[]) => spread(valuesOf(ps, of), digits);
const total = (of: (p: PointRecord) => number) => (ps: readonly PointRecord[]) => String(ps.reduce((n, p) => n + of(p), 0));

export const POINT_COLUMNS: readonly PointColumn[] = [
  { head: 'ops/s', cell: median3((p) => p.throughput, 0), inText: true },
  { head: 'p50 ms', cell: median3((p) => p.latency.p50, 2), inText: true },
  { head: 'p99 ms', cell: median3((p) => p.latency.p99, 2), inText: true },
  { head: 'p999 ms', cell: median3((p) => p.latency.p999, 2), inText: true },
  { head: 'max ms', cell: median3((p) => p.latency.max, 1), inText: false },
  { head: 'service p99 ms', cell: median3((p) => p.service.p99, 2), inText: false },
  { head: 'fail', cell: total((p) => p.fail), inText: true },
  { head: 'info', cell: total((p) => p.info), inText: true },
  { head: 'unsent', cell: total((p) => p.unsent), inText: true },
  { head: 'harness CPU µs/op', cell: median3((p) => p.cpu.harnessUsPerOp, 0), inText: true },
  { head: 'cluster CPU µs/op', cell: median3((p) => p.cpu.clusterUsPerOp, 0), inText: true },
];

/** Every fault of the bench with its point. */
export const benchFaults = (b: BenchResult): { point: PointRecord; fault: FaultRecord }[] =>
  b.points.flatMap((point) => (point.faults ?? []).map((fault) => ({ point, fault })));

const percent = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(2)}%`);

/** A column of the faults table: the text summary's and bench.html's. */
export const FAULT_COLUMNS: readonly { head: string; cell: (point: PointRecord, f: FaultRecord) => string }[] = [
  { head: 'point', cell: (p) => `${p.id} #${p.repeat + 1}` },
  { head: 'fault', cell: (_, f) => describeFault(f) },
  { head: 'at s', cell: (_, f) => f.start.toFixed(1) },
  { head: 'held s', cell: (_, f) => (f.end === null ? '-' : (f.end - f.start).toFixed(1)) },
  { head: 'availability', cell: (_, f) => percent(f.availability) },
  { head: 'served again after s', cell: (_, f) => (f.recoveryS === null ? 'not within the point' : f.recoveryS.toFixed(2)) },
  { head: 'ok', cell: (_, f) => String(f.ok) },
  { head: 'fail', cell: (_, f) => String(f.fail) },
  { head: 'info', cell: (_, f) => String(f.info) },
  { head: 'longest ok ms', cell: (_, f) => fmt(f.longestOkMs, 0) },
];

/** The faults in one line: how many, availability and recovery as median (min-max). */
export function faultSummary(b: BenchResult): string {
  const all = benchFaults(b).map((x) => x.fault);
  const numbers = (of: (f: FaultRecord) => number | null) => all.map(of).filter((v): v is number => v !== null);
  const never = all.filter((f) => f.recoveryS === null).length;
  return (
    `${all.length} fault(s): availability ${spread(
      numbers((f) => (f.availability === null ? null : 100 * f.availability)),
      1,
    )} %, served again after ${spread(
      numbers((f) => f.recoveryS),
      2,
    )} s` + (never > 0 ? `; ${never} not served again within their point` : '')
  );
}

/** The bench as a text table: per point, each figure's median (min-max) over the repeats; and the faults, if any. */
export function benchText(b: BenchResult): string {
  const columns = POINT_COLUMNS.filter((col) => col.inText);
  const rows = [...pointsById(b)].map(([id, ps]) => [id, ...columns.map((col) => col.cell(ps))]);
  const c = b.config;
  const faults = benchFaults(b);
  return (
    `${c.system} on ${c.provider}, workload ${c.workload} (${Math.round(c.readFraction * 100)}% reads, ${c.keys} keys), ${c.warmupS} s warm-up + ${c.durationS} s per point, ${c.repeat} repeat(s): median (min-max)\n` +
    table(['point', ...columns.map((col) => col.head)], rows) +
    (faults.length > 0
      ? `\nfaults (${c.faults.nemesis.join(', ')}; targets ${c.faults.targets.join(', ')}): ${faultSummary(b)}\n` +
        table(
          FAULT_COLUMNS.map((col) => col.head),
          faults.map(({ point, fault }) => FAULT_COLUMNS.map((col) => col.cell(point, fault))),
        )
      : '')
  );
}
