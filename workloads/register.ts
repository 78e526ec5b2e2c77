// Independent cas-registers: reads, writes and compare-and-sets of small
// values over rolling keys, so that ops collide; linearizability per key.

import { casRegister } from '../checkers/linearizability/index.js';
import { linearizable } from '../checkers/index.js';
import { fromFn, type Context } from '../harness/core/generator/index.js';
import type { WorkloadDefinition } from '../harness/core/workload.js';
import { rollingKey, windowNsFor, withStatsAndPerf } from './generators.js';

const VALUES = 5;

export const register: WorkloadDefinition = {
  name: 'register',
  summary: 'read, write, cas over rolling keys; linearizability per key (cas-register)',
  make(p) {
    const windowNs = windowNsFor(p);
    const key = (ctx: Context) => rollingKey('r', p.keys, windowNs, ctx);
    const reads = p.readFraction ?? 1 / 3;
    return {
      name: 'register',
      options: { keys: p.keys, opsPerKey: p.opsPerKey, readFraction: reads },
      // Reads, writes and cas in equal parts, unless the test asks for more reads.
      generator: fromFn((ctx) => {
        const k = key(ctx);
        const u = ctx.random.float();
        if (u < reads) return { f: 'read', key: k };
        if (u < reads + (1 - reads) / 2) return { f: 'write', key: k, value: ctx.random.int(VALUES) };
        return { f: 'cas', key: k, value: [ctx.random.int(VALUES), ctx.random.int(VALUES)] };
      }),
      final: null,
    };
  },
  // A benchmark's mix is reads and writes only (as etcd's and YCSB's): a cas's outcome depends on the value it meets.
  bench: (p) => (random) =>
    random.float() < p.readFraction
      ? { f: 'read', key: `k${random.int(p.keys)}` }
      : { f: 'write', key: `k${random.int(p.keys)}`, value: random.int(1_000_000) },
  // Independent cas-registers, one per key: linearizability per key.
  checkers: (test) => withStatsAndPerf({ linearizable: linearizable(casRegister, { budgetMs: (test.checkerBudget ?? 60) * 1000 }) }),
};
