// Jepsen's set: clients add unique elements, and after the faults are healed
// every worker reads the whole set until one read succeeds. Lost, unexpected
// and recovered elements.

import { setChecker } from '../checkers/index.js';
import { eachThread, limit, repeat, untilOk } from '../harness/core/generator/index.js';
import type { WorkloadDefinition } from '../harness/core/workload.js';
import { counted, withStatsAndPerf } from './generators.js';

export const set: WorkloadDefinition = {
  name: 'set',
  summary: 'add unique elements, then final reads; lost, unexpected and recovered elements',
  make: () => ({
    name: 'set',
    options: {},
    generator: counted((n) => ({ f: 'add', value: n })),
    final: eachThread(limit(20, untilOk(repeat({ f: 'read' })))),
  }),
  checkers: () => withStatsAndPerf({ set: setChecker }),
  // Unique adds, and reads of the whole set (a --reads share), which grows through the bench: a read costs more the
  // longer it runs, so --reads 0 measures adds alone. One set, so --keys does not apply (a hot key).
  bench: (p) => {
    let n = 0;
    return (random) => (random.float() < p.readFraction ? { f: 'read' } : { f: 'add', value: n++ });
  },
};
