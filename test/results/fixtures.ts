// Realistic report inputs: a history recorded from the simulated linearizable
// cas-register (test/checkers/linearizability/gen.ts), re-timed with
// millisecond latencies, with nemesis faults (a partition, a kill) spliced in
// and slower ops while they are in force; optionally one read corrupted so the
// run is not linearizable. Checked by the real checkers.

import { compose } from '../../checkers/result.js';
import { linearizable, modelNamed } from '../../checkers/linearizability/index.js';
import { perfChecker, statsChecker } from '../../checkers/stats.js';
import { pairOps } from '../../history/pair.js';
import type { History, Op } from '../../history/types.js';
import type { ReportInput } from '../../results/report.js';
import { simulate } from '../checkers/linearizability/gen.js';

export interface RunOptions {
  ops: number;
  processes?: number;
  keys?: number;
  infoRate?: number;
  seed?: number;
  /** Corrupt one ok read (it returns a value nobody wrote): the run is not linearizable. */
  corrupt?: boolean;
}

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Nemesis faults as fractions of the client events: [start, stop, start f, stop f, value]. */
const FAULTS: [number, number, string, string, Op['value']][] = [
  [0.22, 0.38, 'start-partition', 'stop-partition', { isolated: ['n2'], rest: ['n1', 'n3'] }],
  [0.6, 0.7, 'kill', 'start', ['n1']],
];

export function runHistory(opts: RunOptions): History {
  const rand = prng(opts.seed ?? 1);
  const choices = Array.from({ length: Math.max(2000, opts.ops * 3) }, () => Math.floor(rand() * 1000));
  const sim = simulate({ kind: 'cas-register', processes: opts.processes ?? 5, ops: opts.ops, keys: opts.keys ?? 3, infoRate: opts.infoRate ?? 0.05 }, choices);

  const at = FAULTS.flatMap(([a, b, fa, fb, value]) => [
    { pos: Math.floor(a * sim.length), f: fa, value },
    { pos: Math.floor(b * sim.length), f: fb, value },
  ]).sort((x, y) => x.pos - y.pos);
  const history: History = [];
  let time = 0;
  let faulty = 0;
  let next = 0;
  for (let i = 0; i < sim.length; i++) {
    while (next < at.length && at[next].pos === i) {
      const { f, value } = at[next++];
      for (const type of ['invoke', 'info'] as const) {
        time += 200_000 + Math.floor(rand() * 800_000);
        history.push({ index: history.length, type, f, value: type === 'invoke' ? null : value, process: 'nemesis', time });
      }
      faulty += f.startsWith('start') || f === 'kill' ? 1 : -1;
    }
    // 0.05 to 1 ms between events; four times slower while a fault is in force.
    time += Math.floor((50_000 + rand() * 950_000) * (faulty > 0 ? 4 : 1));
    history.push({ ...sim[i], index: history.length, time });
  }

  if (opts.corrupt) {
    // An ok read late in the run returns 99: no op ever wrote it.
    for (let i = Math.floor(history.length * 0.8); i < history.length; i++) {
      const op = history[i];
      if (op.type === 'ok' && op.f === 'read') {
        history[i] = { ...op, value: 99 };
        break;
      }
    }
  }
  return history;
}

export function runInput(opts: RunOptions): ReportInput {
  const history = runHistory(opts);
  const check = compose({ linear: linearizable(modelNamed('cas-register'), { budgetMs: 30_000 }), stats: statsChecker, perf: perfChecker });
  return {
    test: {
      name: opts.corrupt ? 'cas-register-corrupted-read' : 'cas-register',
      workload: 'register (cas-register, independent keys)',
      nemesis: 'partition-random-halves, kill',
      seed: opts.seed ?? 1,
      concurrency: opts.processes ?? 5,
      versions: { undertow: '0.1.0', node: process.version },
    },
    history,
    results: check(history, pairOps(history)),
  };
}
