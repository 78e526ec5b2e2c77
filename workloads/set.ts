// Jepsen's set: clients add unique elements (appends to one list), and after
// the faults are healed every worker reads the whole set until one read
// succeeds. Lost, unexpected and recovered elements.

import { eachThread, limit, repeat, untilOk } from '../harness/generator/index.js';
import { counted } from './generators.js';
import { asList, completion } from './outcome.js';
import type { Workload } from './types.js';

export const SET_KEY = 'set';

export function setWorkload(): Workload {
  return {
    name: 'set',
    options: {},
    generator: counted((n) => ({ f: 'add', value: n })),
    final: eachThread(limit(20, untilOk(repeat({ f: 'read' })))),
    async invoke(kv, op, signal) {
      switch (op.f) {
        case 'add':
          return completion(await kv.append(SET_KEY, op.value as number, signal));
        case 'read':
          return completion(await kv.read(SET_KEY, signal), asList);
        default:
          throw new Error(`set: unknown op ${op.f}`);
      }
    },
  };
}
