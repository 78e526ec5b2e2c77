// Independent cas-registers: reads, writes and compare-and-sets of small
// values over rolling keys, so that ops collide; linearizability per key.

import { fromFn, type Context } from '../harness/generator/index.js';
import { rollingKey, windowNsFor } from './generators.js';
import { completion } from './outcome.js';
import type { Workload, WorkloadParams } from './types.js';

const VALUES = 5;

export function registerWorkload(p: WorkloadParams): Workload {
  const windowNs = windowNsFor(p);
  const key = (ctx: Context) => rollingKey('r', p.keys, windowNs, ctx);
  return {
    name: 'register',
    options: { keys: p.keys, opsPerKey: p.opsPerKey, readFraction: p.readFraction ?? 1 / 3 },
    // Reads, writes and cas in equal parts, unless the test asks for more reads.
    generator: fromFn((ctx) => {
      const k = key(ctx);
      const u = ctx.random.float();
      const reads = p.readFraction ?? 1 / 3;
      if (u < reads) return { f: 'read', key: k };
      if (u < reads + (1 - reads) / 2) return { f: 'write', key: k, value: ctx.random.int(VALUES) };
      return { f: 'cas', key: k, value: [ctx.random.int(VALUES), ctx.random.int(VALUES)] };
    }),
    final: null,
    async invoke(kv, op, signal) {
      const k = String(op.key);
      switch (op.f) {
        case 'read':
          return completion(await kv.read(k, signal), (v) => v as number | null);
        case 'write':
          return completion(await kv.write(k, op.value as number, signal));
        case 'cas': {
          const [from, to] = op.value as [number, number];
          return completion(await kv.cas(k, from, to, signal));
        }
        default:
          throw new Error(`register: unknown op ${op.f}`);
      }
    },
  };
}
