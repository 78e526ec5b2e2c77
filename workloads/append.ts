// Per-key lists: appends of unique elements and reads of whole lists over
// rolling keys; the append checker wants one total order per key, no
// duplicates, no lost acknowledged append, and reads in real-time order.

import { appendChecker } from '../checkers/index.js';
import { fromFn, mix, type Context } from '../harness/core/generator/index.js';
import type { WorkloadDefinition } from '../harness/core/workload.js';
import { counted, rollingKey, windowNsFor, withStatsAndPerf } from './generators.js';

export const append: WorkloadDefinition = {
  name: 'append',
  summary: 'append unique elements to per-key lists, read lists; one order per key, nothing lost',
  make(p) {
    const windowNs = windowNsFor(p);
    const key = (ctx: Context) => rollingKey('l', p.keys, windowNs, ctx);
    return {
      name: 'append',
      options: { keys: p.keys, opsPerKey: p.opsPerKey },
      generator: mix([counted((n, ctx) => ({ f: 'append', key: key(ctx), value: n })), fromFn((ctx) => ({ f: 'read', key: key(ctx) }))]),
      final: null,
    };
  },
  checkers: () => withStatsAndPerf({ append: appendChecker }),
  // Appended values count up, unique per run; lists grow with the run, as they do for a user's logs.
  bench: (p) => {
    let n = 0;
    return (random) =>
      random.float() < p.readFraction ? { f: 'read', key: `l${random.int(p.keys)}` } : { f: 'append', key: `l${random.int(p.keys)}`, value: n++ };
  },
};
