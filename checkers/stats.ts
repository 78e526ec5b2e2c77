// Jepsen's stats and perf checkers: how many ops of each f came back ok, fail
// or info, and how fast they were.

import type { History, Operation } from '../history/types.js';
import { latencies, type Latencies } from './latency.js';
import { validOf, type Checker, type CheckerResult } from './result.js';

export { latencies, type Latencies };

export interface Counts {
  count: number;
  ok: number;
  fail: number;
  info: number;
}

export interface StatsResult extends CheckerResult {
  checker: 'stats';
  all: Counts;
  byF: Record<string, Counts>;
  /** The fs that never once came back ok (Jepsen calls the test invalid then). */
  neverOk: string[];
}

const empty = (): Counts => ({ count: 0, ok: 0, fail: 0, info: 0 });

/** Invalid if some f never succeeded: a test in which, say, no write ever went through tests nothing. */
export const statsChecker: Checker = (_history, operations: Operation[]): StatsResult => {
  const all = empty();
  const byF: Record<string, Counts> = {};
  for (const op of operations) {
    const c = (byF[op.f] ??= empty());
    for (const x of [c, all]) {
      x.count++;
      x[op.type]++;
    }
  }
  const neverOk = Object.entries(byF)
    .filter(([, c]) => c.ok === 0)
    .map(([f]) => f)
    .sort();
  const verdict = all.count === 0 ? 'unknown' : neverOk.length > 0 ? 'invalid' : 'valid';
  return { checker: 'stats', verdict, valid: validOf(verdict), all, byF, neverOk };
};

export interface PerfResult extends CheckerResult {
  checker: 'perf';
  /** Seconds from the first to the last event. */
  duration: number;
  /** ok ops per second over the whole test. */
  throughput: number;
  /** Latency of ok ops, and per f. */
  latency: Latencies | null;
  latencyByF: Record<string, Latencies>;
  /** ok, fail and info completions per whole second of the test, for plots. */
  perSecond: { second: number; ok: number; fail: number; info: number }[];
}

/** Always valid: it measures, it does not judge. Info ops have no latency (their end is unknown). */
export const perfChecker: Checker = (history: History, operations: Operation[]): PerfResult => {
  const first = history.length > 0 ? history[0].time : 0;
  const last = history.length > 0 ? history[history.length - 1].time : 0;
  const duration = (last - first) / 1e9;
  const okMs: number[] = [];
  const byF: Record<string, number[]> = {};
  for (const op of operations) {
    if (op.type !== 'ok') continue;
    const ms = (op.completeTime - op.invokeTime) / 1e6;
    okMs.push(ms);
    (byF[op.f] ??= []).push(ms);
  }
  const seconds = Math.floor(duration) + 1;
  const perSecond = Array.from({ length: history.length > 0 ? seconds : 0 }, (_, second) => ({ second, ok: 0, fail: 0, info: 0 }));
  for (const op of history) {
    if (typeof op.process !== 'number' || op.type === 'invoke') continue;
    perSecond[Math.floor((op.time - first) / 1e9)][op.type]++;
  }
  return {
    checker: 'perf',
    verdict: 'valid',
    valid: true,
    duration,
    throughput: duration > 0 ? okMs.length / duration : 0,
    latency: okMs.length > 0 ? latencies(okMs) : null,
    latencyByF: Object.fromEntries(Object.entries(byF).map(([f, ms]) => [f, latencies(ms)])),
    perSecond,
  };
};
