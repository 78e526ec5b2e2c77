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
};
