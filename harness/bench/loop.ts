// One point of a benchmark: clients driving the system for a warm-up and a
// measured window, either closed loop (each client sends its next op as soon
// as the last one answered: full speed at a given concurrency) or open loop
// (ops are due at a fixed rate whatever the system does, and served by a pool
// of clients).
//
// Open-loop latency is measured from each op's intended start, as wrk2 does:
// op i is due at start + i/rate, and an op that had to wait for a free client
// (because the system stalled) counts the wait. A closed loop cannot see a
// stall that way: while a client waits for one slow op it sends nothing, so
// one slow op is one slow sample (coordinated omission). Both loops also keep
// the service time (from sending to the answer).
//
// The loop is lean on purpose, apart from the test's worker pool: no
// generator, no history file, one histogram add per op, so that the harness
// is not what limits the throughput it measures.

import { newHistogram, type Histogram } from '../../checkers/latency.js';
import type { Client, ClientResult } from '../core/client.js';
import type { OpSpec } from '../core/generator/index.js';
import { message, withTimeout } from '../run/workers.js';
import { keyBucket, type TimelineOp } from './availability.js';

export type LoopMode = { readonly kind: 'closed'; readonly concurrency: number } | { readonly kind: 'open'; readonly rate: number; readonly clients: number };

export interface PointOptions {
  readonly mode: LoopMode;
  /** Seconds run before the window, not measured (connections, caches, JIT). */
  readonly warmupS: number;
  /** Seconds measured. */
  readonly durationS: number;
  /** A new, unopened client; worker w opens it to nodes[w mod nodes.length]. */
  readonly newClient: () => Client;
  readonly nodes: readonly string[];
  /** The next op to send. */
  readonly nextOp: () => OpSpec;
  readonly opTimeoutMs: number;
  readonly stop?: AbortSignal;
  /** Read at the start and the end of the window (e.g. the cluster's CPU seconds), to report the difference. */
  readonly probe?: () => number;
  /** Keep every counted op's times and outcome (`timeline`): what a fault's availability and recovery are computed from. */
  readonly timeline?: boolean;
  /** Called at the window's start with its end (performance.now() ms): faults run within the window, not the warm-up. */
  readonly onWindow?: (windowEnd: number) => void;
}

/** Latencies of one op type (ok ops only), microsecond HDR histograms. */
export interface OpHistograms {
  /** From the intended start (open loop) or from sending (closed loop). */
  latency: Histogram;
  /** From sending to the answer. */
  service: Histogram;
}

export interface SecondBucket {
  ok: number;
  fail: number;
  info: number;
  /** Latency of the ok ops that completed in this second. */
  latency: Histogram;
}

export interface PointMeasurement {
  mode: LoopMode;
  /** Ops counted: those due (open) or sent (closed) within the window. */
  ok: number;
  fail: number;
  info: number;
  /** Open loop: ops due within the window that no client was free to send before it ended (the rate is beyond what the system serves). */
  unsent: number;
  /** ok ops per second of the window. */
  throughput: number;
  byF: Map<string, OpHistograms>;
  /** Per second of the window, by completion time. */
  seconds: SecondBucket[];
  /** CPU time of this process (the harness and its clients) per counted op, µs. */
  harnessCpuUsPerOp: number;
  /** `probe`'s difference over the window (NaN without a probe). */
  probed: number;
  /** Errors of the ops that failed or went unknown, with how often each came (the first 20 kinds). */
  errors: Record<string, number>;
  /** With `timeline`: every counted op, in completion order; else null. */
  timeline: TimelineOp[] | null;
  /** When the window started and ended (performance.now() ms). */
  window: { start: number; end: number };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function measurePoint(o: PointOptions): Promise<PointMeasurement> {
  const mode = o.mode;
  const workers = mode.kind === 'closed' ? mode.concurrency : mode.clients;
  const start = performance.now();
  const windowStart = start + o.warmupS * 1000;
  const windowEnd = windowStart + o.durationS * 1000;
  const m: PointMeasurement = {
    mode,
    ok: 0,
    fail: 0,
    info: 0,
    unsent: 0,
    throughput: 0,
    byF: new Map(),
    seconds: Array.from({ length: Math.ceil(o.durationS) }, () => ({ ok: 0, fail: 0, info: 0, latency: newHistogram() })),
    harnessCpuUsPerOp: NaN,
    probed: NaN,
    errors: {},
    timeline: o.timeline === true ? [] : null,
    window: { start: windowStart, end: windowEnd },
  };
  const stopped = () => o.stop?.aborted === true;

  // The window's CPU readings, taken by timers at its start and end.
  let cpu0: NodeJS.CpuUsage | undefined;
  let cpu1: NodeJS.CpuUsage | undefined;
  let probe0 = NaN;
  let probe1 = NaN;
  let counted0 = 0;
  let counted1 = 0;
  const completions = () => m.ok + m.fail + m.info;
  const t0 = setTimeout(() => {
    cpu0 = process.cpuUsage();
    probe0 = o.probe?.() ?? NaN;
    counted0 = completions();
    o.onWindow?.(windowEnd);
  }, windowStart - performance.now());
  const t1 = setTimeout(() => {
    cpu1 = process.cpuUsage(cpu0);
    probe1 = o.probe?.() ?? NaN;
    counted1 = completions();
  }, windowEnd - performance.now());

  const record = (op: OpSpec, r: ClientResult, origin: number, sent: number, done: number) => {
    if (origin < windowStart || origin >= windowEnd) return;
    m[r.type]++;
    const second = m.seconds[Math.floor((done - windowStart) / 1000)];
    if (second) second[r.type]++;
    if (m.timeline) {
      const t: TimelineOp = { sent: origin, done, type: r.type, bucket: keyBucket(op.key) };
      if (r.type !== 'ok') t.error = typeof r.error === 'string' ? r.error : JSON.stringify(r.error ?? null);
      m.timeline.push(t);
    }
    if (r.type === 'ok') {
      let h = m.byF.get(op.f);
      if (!h) m.byF.set(op.f, (h = { latency: newHistogram(), service: newHistogram() }));
      const us = Math.max(1, Math.round((done - origin) * 1000));
      h.latency.recordValue(us);
      h.service.recordValue(Math.max(1, Math.round((done - sent) * 1000)));
      second?.latency.recordValue(us);
    } else {
      const e = typeof r.error === 'string' ? r.error : JSON.stringify(r.error ?? null);
      const key = `${r.type} ${op.f}: ${e.slice(0, 120)}`;
      if (key in m.errors || Object.keys(m.errors).length < 20) m.errors[key] = (m.errors[key] ?? 0) + 1;
    }
  };

  // One worker: its own client, replaced after an unknown outcome (the client may be in any state then).
  // `take` gives the next op's due time (-1: due when sent) or null to stop.
  const worker = async (w: number, take: () => Promise<number | null> | number | null) => {
    const node = o.nodes[w % o.nodes.length];
    let client: Client | undefined;
    let opened = false;
    try {
      for (;;) {
        const due = await take();
        if (due === null) break;
        const op = o.nextOp();
        if (!client) {
          client = o.newClient();
          opened = false;
        }
        const c = client;
        const controller = new AbortController();
        const sent = performance.now();
        let openFailed = false;
        const outcome = (async () => {
          if (!opened) {
            await c.open(node).catch((e: unknown) => {
              openFailed = true;
              throw e;
            });
            opened = true;
          }
          return c.invoke({ ...op, value: op.value ?? null, process: w, time: 0 }, controller.signal);
        })();
        const r = await withTimeout(outcome, o.opTimeoutMs, controller, (e) =>
          openFailed ? { type: 'fail', error: `cannot open a client to ${node}: ${message(e)}` } : { type: 'info', error: message(e) },
        );
        // An op sent a little early (a wait under half a millisecond is not slept) starts when sent.
        record(op, r, due < 0 ? sent : Math.min(due, sent), sent, performance.now());
        if (r.type === 'info' || openFailed) {
          void c.close().catch(() => undefined);
          client = undefined;
          if (openFailed) await sleep(100); // the node may be down: do not spin
        }
      }
    } finally {
      await client?.close().catch(() => undefined);
    }
  };

  let lastDue = Infinity;
  let taken = 0;
  if (mode.kind === 'closed') {
    const take = () => (stopped() || performance.now() >= windowEnd ? null : -1);
    await Promise.all(Array.from({ length: workers }, (_, w) => worker(w, take)));
  } else {
    const interval = 1000 / mode.rate;
    lastDue = Math.ceil((windowEnd - start) / interval); // the first op due after the window
    // Each free client takes the next op and waits for its due time; one already due goes at once.
    // Once the window is over, ops still waiting for a client are not sent (counted as unsent).
    const take = async (): Promise<number | null> => {
      if (stopped() || taken >= lastDue || performance.now() >= windowEnd) return null;
      const due = start + taken++ * interval;
      const wait = due - performance.now();
      if (wait > 0.5) await sleep(wait);
      return stopped() ? null : due;
    };
    await Promise.all(Array.from({ length: workers }, (_, w) => worker(w, take)));
    const firstInWindow = Math.ceil((windowStart - start) / interval);
    m.unsent = Math.max(0, lastDue - Math.max(taken, firstInWindow));
  }
  clearTimeout(t0);
  clearTimeout(t1);
  const cpu = cpu1 ?? (cpu0 ? process.cpuUsage(cpu0) : undefined);
  const ops = (cpu1 ? counted1 : completions()) - counted0;
  m.harnessCpuUsPerOp = cpu && ops > 0 ? (cpu.user + cpu.system) / ops : NaN;
  m.probed = (cpu1 ? probe1 : (o.probe?.() ?? NaN)) - probe0;
  m.throughput = m.ok / o.durationS;
  return m;
}
