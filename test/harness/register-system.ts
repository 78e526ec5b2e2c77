// An in-memory register system for harness tests: random register ops, and
// clients of a per-key register with latencies, stalls, dropped connections
// and (optionally) stale reads.

import { valueEqual } from '../../checkers/linearizability/model.js';
import { fromFn, mix, Random, type Context, type Invocation } from '../../harness/core/generator/index.js';
import type { Client, ClientResult } from '../../harness/core/client.js';
import type { Value } from '../../history/types.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Random reads, writes and cas over a few keys with small values, so ops collide. */
export function registerOps(keys: number) {
  const key = (ctx: Context) => `k${ctx.random.int(keys)}`;
  return mix([
    fromFn((ctx) => ({ f: 'read', key: key(ctx) })),
    fromFn((ctx) => ({ f: 'write', key: key(ctx), value: ctx.random.int(4) })),
    fromFn((ctx) => ({ f: 'cas', key: key(ctx), value: [ctx.random.int(4), ctx.random.int(4)] })),
  ]);
}

export interface Faults {
  /** Share of ops that stall past the timeout, then take effect anyway. */
  stall: number;
  /** Share of ops whose connection drops before they reach the register. */
  dropBefore: number;
  /** Share of ops whose connection drops after they took effect. */
  dropAfter: number;
}

/**
 * A register per key applied atomically at one instant inside each op's
 * lifetime. `lagMs` > 0 makes reads come from a copy that trails the truth by
 * that long: not linearizable.
 */
export function registerSystem(seed: number, faults: Faults, lagMs = 0) {
  const truth = new Map<string, Value>();
  const copy = new Map<string, Value>();
  const random = Random.seeded(seed);
  const opened: string[] = [];
  let closed = 0;
  const apply = (op: Invocation): ClientResult => {
    const k = op.key as string;
    const current = truth.get(k) ?? null;
    const set = (v: Value) => {
      truth.set(k, v);
      if (lagMs > 0) setTimeout(() => copy.set(k, v), lagMs);
      else copy.set(k, v);
    };
    switch (op.f) {
      case 'read':
        return { type: 'ok', value: lagMs > 0 ? (copy.get(k) ?? null) : current };
      case 'write':
        set(op.value);
        return { type: 'ok' };
      default: {
        const [from, to] = op.value as [Value, Value];
        if (!valueEqual(current, from)) return { type: 'fail' };
        set(to);
        return { type: 'ok' };
      }
    }
  };
  const newClient = (): Client => ({
    async open(node) {
      opened.push(node);
    },
    async invoke(op) {
      const x = random.float();
      await sleep(random.int(3));
      if (x < faults.dropBefore) throw new Error('connection reset by peer');
      if (x < faults.dropBefore + faults.stall) await sleep(40); // past the 15 ms timeout
      const result = apply(op);
      if (x > 1 - faults.dropAfter) throw new Error('connection lost');
      await sleep(random.int(3));
      return result;
    },
    async close() {
      closed++;
    },
  });
  return { newClient, opened, closed: () => closed };
}
