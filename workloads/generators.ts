// Op sources shared by the workloads.

import { perfChecker, statsChecker, type Checker } from '../checkers/index.js';
import { fillIn, pending } from '../harness/core/generator/basic.js';
import type { Context, Generator, OpSpec } from '../harness/core/generator/index.js';

/**
 * Ops made from a counter: the n-th op gets n (unique values for sets and
 * lists). The counter is part of the generator value, not a closure, so a
 * discarded ask costs nothing and a seed replays the same values.
 */
export function counted(make: (n: number, ctx: Context) => OpSpec, n = 0): Generator {
  const self: Generator = {
    op(ctx) {
      const op = fillIn(make(n, ctx), ctx);
      return op ? { kind: 'op', op, next: counted(make, n + 1) } : pending(self);
    },
    update: () => self,
  };
  return self;
}

/**
 * A key for the op: `keys` keys are live at a time, and the set moves on
 * every `windowNs`, so each key sees a bounded number of ops (Jepsen's
 * independent keys): a key's history stays small enough for the
 * linearizability search, while ops on one key still collide.
 */
export function rollingKey(prefix: string, keys: number, windowNs: number, ctx: Context): string {
  const window = Math.floor(ctx.time / windowNs);
  return `${prefix}${window * keys + ctx.random.int(keys)}`;
}

/** The window that gives `opsPerKey` ops per key at `rate` ops/s over `keys` keys. */
export function windowNsFor(p: { keys: number; opsPerKey: number; rate: number }): number {
  return Math.max(1e8, Math.round(((p.opsPerKey * p.keys) / p.rate) * 1e9));
}

/** Every workload's own checkers, plus stats (ok, fail and info counts per f) and perf (latency and throughput). */
export const withStatsAndPerf = (own: Record<string, Checker>): Record<string, Checker> => ({ ...own, stats: statsChecker, perf: perfChecker });
