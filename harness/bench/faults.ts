// Faults during a bench point (`undertow bench --nemesis ...`): the test's
// own fault schedule (faultGenerator) and nemesis (faultsNemesis), driven by
// the test's worker pool with the nemesis as its only worker, so a bench's
// `--nemesis kill --targets primary` is exactly what it is in `undertow test`.
// Faults start within the point's measured window, not its warm-up, and stop
// `--nemesis-interval` seconds before the window ends: everything is healed
// then (heal-all, as a test heals before its final reads), and the last
// seconds show the recovery. What each fault did to the clients is
// availability.ts's.

import type { Op } from '../../history/types.js';
// Which op ends which fault: the report's pairing (ours, and Jepsen's start/stop conventions), one table for both.
import { HEAL_ALL, healerOf } from '../../results/report-data.js';
import type { Cluster, NodeInfo } from '../core/provider.js';
import { Recorder } from '../core/recorder.js';
import type { Deployment, SystemView } from '../core/system.js';
import { faultNodesOf, faultsThenHeal, runNemesis } from '../run/run-test.js';
import type { FaultSettings } from '../run/test-flags.js';
import { runWorkers } from '../run/workers.js';
import { faultEffect, type Fault, type FaultRecord, type TimelineOp } from './availability.js';

/** The faults of a nemesis history (invocations and completions in order; `ms` gives an event's time). */
export function faultSpans(events: readonly Op[], ms: (e: Op) => number): Fault[] {
  const spans: Fault[] = [];
  const open: Fault[] = [];
  for (const e of events) {
    if (e.type === 'invoke') {
      if (healerOf(e.f) !== undefined) {
        const span: Fault = { f: e.f, asked: e.value, did: null, stoppedBy: null, start: ms(e), end: null };
        spans.push(span);
        open.push(span);
      }
      continue;
    }
    if (healerOf(e.f) !== undefined) {
      const span = open.find((s) => s.f === e.f && s.did === null);
      if (span) span.did = e.error !== undefined ? { error: e.error } : e.value;
      continue;
    }
    // A stop op ends every fault it stops (start: the killed and the corrupted nodes); heal-all ends them all.
    for (let i = open.length - 1; i >= 0; i--) {
      if (e.f === HEAL_ALL || healerOf(open[i].f) === e.f) {
        open[i].end = ms(e);
        open[i].stoppedBy = e.f;
        open.splice(i, 1);
      }
    }
  }
  return spans;
}

/** Each fault with what it did to the ops; `t0` is the bench's start (ms), `windowEnd` the point's. */
export function faultRecords(spans: readonly Fault[], ops: readonly TimelineOp[], t0: number, windowEnd: number): FaultRecord[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const s = (ms: number) => Math.round(ms - t0) / 1000;
  return sorted.map((span, i) => {
    const horizon = Math.min(windowEnd, sorted[i + 1]?.start ?? Infinity);
    const { servedAgainAt, ...effect } = faultEffect(ops, { start: span.start, end: span.end ?? horizon, horizon });
    return {
      f: span.f,
      asked: span.asked,
      did: span.did,
      stoppedBy: span.stoppedBy,
      start: s(span.start),
      end: span.end === null ? null : s(span.end),
      servedAgainAt: servedAgainAt === null ? null : s(servedAgainAt),
      ...effect,
      recoveryS: effect.recoveryS === null ? null : Math.round(effect.recoveryS * 1000) / 1000,
      availability: effect.availability === null ? null : Math.round(effect.availability * 1e4) / 1e4,
      longestOkMs: effect.longestOkMs === null ? null : Math.round(effect.longestOkMs * 100) / 100,
    };
  });
}

export interface PointFaultsOptions {
  faults: FaultSettings;
  cluster: Cluster;
  view: SystemView;
  deployment: Deployment;
  nodes: readonly NodeInfo[];
  /** The point's own seed: its schedule (kinds, targets, holds) and the nemesis's draws. */
  seed: number;
  /** When (performance.now() ms) to stop starting faults and heal everything. */
  healAt: number;
  stop: AbortSignal;
  log: (f: string, value: unknown) => void;
}

/** Runs the fault schedule until `healAt`, then heal-all; the nemesis history, with each event's time in ms on performance.now()'s clock. */
export async function runPointFaults(o: PointFaultsOptions): Promise<{ events: Op[]; ms: (e: Op) => number }> {
  // The recorder counts on performance.now()'s clock, the one the bench's ops are timed on.
  const recorder = new Recorder({ clock: () => BigInt(Math.round(performance.now() * 1e6)) });
  const zero = performance.now();
  const { deployment, nodes } = o;
  await runWorkers({
    generator: faultsThenHeal(o.faults, faultNodesOf(deployment, nodes), deployment.membership?.targets, o.seed + 1, Math.max(0, o.healAt - zero) * 1e6),
    concurrency: 1,
    seed: o.seed,
    nodes: deployment.clientNodes(nodes),
    newClient: () => {
      throw new Error('a bench point’s fault schedule has no client ops');
    },
    nemesis: runNemesis(o.cluster, o.view, deployment, o.seed, o.log),
    recorder,
    opTimeoutMs: 60_000,
    stop: o.stop,
  });
  recorder.close();
  return { events: [...recorder.nemesisHistory], ms: (e) => zero + e.time / 1e6 };
}
