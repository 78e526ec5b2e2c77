// What the report's page draws, computed once at render time: the ops as
// columns (compact JSON for 100,000 ops), the lanes of the timeline, the fault
// intervals, and the aligned series of the latency and throughput plots.

import { pairOps } from '../history/pair.js';
import type { History, Op, Operation, Value } from '../history/types.js';
import { quantilesOf } from '../checkers/latency.js';

export interface Fault {
  /** The nemesis f that began it, e.g. "start-partition", "kill". */
  f: string;
  /** Seconds since the test's start. */
  start: number;
  /** Seconds; the end of the run when the fault was never healed. */
  end: number;
  /** Whether a healing op closed it. */
  healed: boolean;
  /** What the nemesis said it did (the completion's value), if anything. */
  value: Value;
  /** Event indices of its start and of its end (null when never healed). */
  startIndex: number;
  endIndex: number | null;
}

export interface OpColumns {
  lane: number[];
  process: number[];
  /** Index into `fs`. */
  f: number[];
  /** 0 ok, 1 fail, 2 info. */
  type: number[];
  /** Invocation, seconds since the start. */
  s: number[];
  /** Completion, seconds; -1 for info (no known completion). */
  e: number[];
  invokeIndex: number[];
  /** -1 for info. */
  completeIndex: number[];
  key: (string | number | null)[];
  input: Value[];
  output: Value[];
  error: Value[];
}

/** uPlot's aligned data: one x column, then one column per series (null where a series has no point). */
export interface Plot {
  labels: string[];
  x: number[];
  series: (number | null)[][];
}

export interface ReportData {
  /** Seconds from the first event to the last. */
  end: number;
  lanes: string[];
  fs: string[];
  ops: OpColumns;
  faults: Fault[];
  /** Nemesis ops that are not part of an interval (shown as marks). */
  marks: { f: string; at: number; index: number; value: Value }[];
  latency: Plot & { points: number; bucket: number };
  throughput: Plot & { bucket: number };
}

const TYPE_CODE = { ok: 0, fail: 1, info: 2 } as const;
/** More processes than this and lanes are worker threads (a fresh process takes a retired one's lane). */
export const MAX_PROCESS_LANES = 64;

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * Which nemesis f ends an interval that `f` began: ours (nemesis/faults.ts),
 * and Jepsen's start-x/stop-x and start/stop conventions.
 */
const PAIRS: Record<string, string> = {
  kill: 'start',
  corrupt: 'start',
  pause: 'resume',
  'power-off': 'power-on',
  partition: 'heal',
  packet: 'packet-clear',
  'clock-bump': 'clock-reset',
  'clock-strobe': 'clock-reset',
  'member-remove': 'member-add',
  'bump-clock': 'reset-clock',
  'strobe-clock': 'reset-clock',
};
const HEALERS = new Set(Object.values(PAIRS));
/** Ends every fault in force. */
export const HEAL_ALL = 'heal-all';

export function healerOf(f: string): string | undefined {
  if (PAIRS[f] !== undefined) return PAIRS[f];
  if (HEALERS.has(f) || f === HEAL_ALL) return undefined;
  if (f.startsWith('start-')) return `stop-${f.slice(6)}`;
  if (f.startsWith('start')) return `stop${f.slice(5)}`;
  return undefined;
}

function isHealer(f: string): boolean {
  return f.startsWith('stop') || HEALERS.has(f);
}

export function faultsOf(history: History, t0: number, end: number): { faults: Fault[]; marks: ReportData['marks'] } {
  const sec = (ns: number) => round6((ns - t0) / 1e9);
  const open = new Map<string, { f: string; start: number; startIndex: number; value: Value }[]>();
  const faults: Fault[] = [];
  const marks: ReportData['marks'] = [];
  // A nemesis op is an invoke and then an info (or ok) completion: the fault is
  // in force from the start op's completion (or its invocation, lacking one)
  // to the healing op's completion.
  const invoked = new Map<string, Op>();
  for (const op of history) {
    if (op.process !== 'nemesis') continue;
    if (op.type === 'invoke') {
      invoked.set(op.f, op);
      continue;
    }
    const inv = invoked.get(op.f);
    invoked.delete(op.f);
    const startTime = inv ? inv.time : op.time;
    const startIndex = inv ? inv.index : op.index;
    const healer = healerOf(op.f);
    if (healer) {
      const list = open.get(healer) ?? [];
      list.push({ f: op.f, start: sec(startTime), startIndex, value: op.value });
      open.set(healer, list);
    } else if (op.f === HEAL_ALL) {
      for (const list of open.values()) for (const began of list.splice(0)) faults.push({ ...began, end: sec(op.time), healed: true, endIndex: op.index });
    } else if (isHealer(op.f) && open.get(op.f)?.length) {
      const began = open.get(op.f)!.shift()!;
      faults.push({ ...began, end: sec(op.time), healed: true, endIndex: op.index });
    } else {
      marks.push({ f: op.f, at: sec(op.time), index: op.index, value: op.value });
    }
  }
  // Invocations that never completed still mark when they were tried.
  for (const op of invoked.values()) marks.push({ f: op.f, at: sec(op.time), index: op.index, value: op.value });
  for (const list of open.values()) for (const began of list) faults.push({ ...began, end, healed: false, endIndex: null });
  faults.sort((a, b) => a.start - b.start);
  marks.sort((a, b) => a.at - b.at);
  return { faults, marks };
}

/**
 * Lanes: one per process when there are at most MAX_PROCESS_LANES of them, as
 * Jepsen's timeline does. Past that (long runs retire a process at every
 * unknown outcome), a lane is a worker: a new process takes the lane of the
 * first process that finished for good (its last op ended before the new one began).
 */
function assignLanes(operations: Operation[]): { laneOf: (op: Operation) => number; labels: string[] } {
  const processes = [...new Set(operations.map((o) => o.process))].sort((a, b) => a - b);
  if (processes.length <= MAX_PROCESS_LANES) {
    const lane = new Map(processes.map((p, i) => [p, i]));
    return { laneOf: (op) => lane.get(op.process)!, labels: processes.map((p) => `p${p}`) };
  }
  const last = new Map<number, Operation>();
  for (const op of operations) last.set(op.process, op);
  const laneOfProcess = new Map<number, number>();
  const laneFreeAt: number[] = []; // invoke time after which the lane's current process is done
  const members: number[][] = [];
  for (const op of operations) {
    if (laneOfProcess.has(op.process)) continue;
    let lane = laneFreeAt.findIndex((t) => t <= op.invokeTime);
    if (lane < 0) {
      lane = laneFreeAt.length;
      laneFreeAt.push(0);
      members.push([]);
    }
    const end = last.get(op.process)!;
    // A process whose last op is unknown is retired at that op's invocation
    // (its worker moves on); its faded bar stops at the next op of the lane.
    laneFreeAt[lane] = Number.isFinite(end.completeTime) ? end.completeTime : end.invokeTime + 1;
    laneOfProcess.set(op.process, lane);
    members[lane].push(op.process);
  }
  const labels = members.map((ps, i) => (ps.length === 1 ? `p${ps[0]}` : `w${i} (${ps.length} procs)`));
  return { laneOf: (op) => laneOfProcess.get(op.process)!, labels };
}

/** A round bucket width giving about `target` buckets over `span` seconds. */
export function niceBucket(span: number, target: number): number {
  const raw = Math.max(span / target, 1e-6);
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

export function reportData(history: History): ReportData {
  const operations = pairOps(history);
  const t0 = history.length > 0 ? history[0].time : 0;
  const end = history.length > 0 ? round6((history[history.length - 1].time - t0) / 1e9) : 0;
  const sec = (ns: number) => round6((ns - t0) / 1e9);
  const { laneOf, labels } = assignLanes(operations);
  const fs: string[] = [];
  const fIndex = new Map<string, number>();
  const ops: OpColumns = {
    lane: [],
    process: [],
    f: [],
    type: [],
    s: [],
    e: [],
    invokeIndex: [],
    completeIndex: [],
    key: [],
    input: [],
    output: [],
    error: [],
  };
  for (const op of operations) {
    let fi = fIndex.get(op.f);
    if (fi === undefined) {
      fi = fs.length;
      fs.push(op.f);
      fIndex.set(op.f, fi);
    }
    const known = Number.isFinite(op.completeTime);
    ops.lane.push(laneOf(op));
    ops.process.push(op.process);
    ops.f.push(fi);
    ops.type.push(TYPE_CODE[op.type]);
    ops.s.push(sec(op.invokeTime));
    ops.e.push(known ? sec(op.completeTime) : -1);
    ops.invokeIndex.push(op.invokeIndex);
    ops.completeIndex.push(known ? op.completeIndex : -1);
    ops.key.push(op.key ?? null);
    ops.input.push(op.input);
    ops.output.push(op.output);
    ops.error.push(op.error ?? null);
  }
  const { faults, marks } = faultsOf(history, t0, end);
  return { end, lanes: labels, fs, ops, faults, marks, latency: latencyPlot(ops, fs, end), throughput: throughputPlot(history, operations, fs, t0, end) };
}

/**
 * Latency of ok ops (ms) at their invocation time: one point series per f,
 * then p50, p95 and p99 of all ok ops per time bucket, at the bucket's middle.
 */
function latencyPlot(ops: OpColumns, fs: string[], end: number): ReportData['latency'] {
  const bucket = niceBucket(end, 60);
  const rows: { x: number; f: number; ms: number }[] = [];
  const perBucket: number[][] = [];
  for (let i = 0; i < ops.s.length; i++) {
    if (ops.type[i] !== 0) continue;
    const ms = Math.max(round6((ops.e[i] - ops.s[i]) * 1000), 1e-3); // a log scale needs > 0
    rows.push({ x: ops.s[i], f: ops.f[i], ms });
    (perBucket[Math.floor(ops.s[i] / bucket)] ??= []).push(ms);
  }
  const qs: { x: number; p: [number, number, number] }[] = [];
  perBucket.forEach((ms, b) => {
    if (!ms) return;
    const [p50, p95, p99] = quantilesOf(ms, [0.5, 0.95, 0.99]);
    qs.push({ x: round6((b + 0.5) * bucket), p: [p50, p95, p99] });
  });
  rows.sort((a, b) => a.x - b.x);
  const n = fs.length;
  const x: number[] = [];
  const series: (number | null)[][] = Array.from({ length: n + 3 }, () => []);
  let q = 0;
  const pushQ = () => {
    const { x: qx, p } = qs[q++];
    x.push(qx);
    for (let s = 0; s < n; s++) series[s].push(null);
    for (let k = 0; k < 3; k++) series[n + k].push(p[k]);
  };
  for (const r of rows) {
    while (q < qs.length && qs[q].x <= r.x) pushQ();
    x.push(r.x);
    for (let s = 0; s < n; s++) series[s].push(s === r.f ? r.ms : null);
    for (let k = 0; k < 3; k++) series[n + k].push(null);
  }
  while (q < qs.length) pushQ();
  return { labels: [...fs, 'p50', 'p95', 'p99'], x, series, points: rows.length, bucket };
}

/** Completions per second in each time bucket: ok per f, then fail and info of all fs. */
function throughputPlot(history: History, operations: Operation[], fs: string[], t0: number, end: number): ReportData['throughput'] {
  const bucket = niceBucket(end, 60);
  const buckets = Math.max(1, Math.ceil(end / bucket + 1e-9));
  const fIndex = new Map(fs.map((f, i) => [f, i]));
  const series: number[][] = Array.from({ length: fs.length + 2 }, () => new Array<number>(buckets).fill(0));
  const at = (ns: number) => Math.min(buckets - 1, Math.floor((ns - t0) / 1e9 / bucket));
  for (const op of operations) {
    if (op.type === 'ok') series[fIndex.get(op.f)!][at(op.completeTime)]++;
    else if (op.type === 'fail') series[fs.length][at(op.completeTime)]++;
  }
  // Info completions have no completion time in the paired op; take them from the history.
  for (const op of history) if (typeof op.process === 'number' && op.type === 'info') series[fs.length + 1][at(op.time)]++;
  const x = Array.from({ length: buckets }, (_, b) => round6((b + 0.5) * bucket));
  // The last bucket may be partial: rate over the part the run covered.
  const width = (b: number) => (b === buckets - 1 ? Math.max(end - b * bucket, bucket / 10) : bucket);
  return {
    labels: [...fs.map((f) => `${f} ok`), 'fail', 'info'],
    x,
    series: series.map((col) => col.map((c, b) => round6(c / width(b)))),
    bucket,
  };
}
