// Per-key lists: appends of unique elements and reads of whole lists over
// rolling keys; the append checker wants one total order per key, no
// duplicates, no lost acknowledged append, and reads in real-time order.

import { fromFn, mix, type Context } from '../harness/generator/index.js';
import { counted, rollingKey, windowNsFor } from './generators.js';
import { asList, completion } from './outcome.js';
import type { Workload, WorkloadParams } from './types.js';

export function appendWorkload(p: WorkloadParams): Workload {
  const windowNs = windowNsFor(p);
  const key = (ctx: Context) => rollingKey('l', p.keys, windowNs, ctx);
  return {
    name: 'append',
    options: { keys: p.keys, opsPerKey: p.opsPerKey },
    generator: mix([counted((n, ctx) => ({ f: 'append', key: key(ctx), value: n })), fromFn((ctx) => ({ f: 'read', key: key(ctx) }))]),
    final: null,
    async invoke(kv, op, signal) {
      const k = String(op.key);
      switch (op.f) {
        case 'append':
          return completion(await kv.append(k, op.value as number, signal));
        case 'read':
          return completion(await kv.read(k, signal), asList);
        default:
          throw new Error(`append: unknown op ${op.f}`);
      }
    },
  };
}
