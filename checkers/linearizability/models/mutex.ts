// A lock, as Knossos's mutex: acquire takes it if it is free, release frees it
// if it is held. Like Knossos's, it does not track who holds it: a release by
// another process than the one that acquired is not an error here, which is
// what Jepsen's lock tests record (the holder is the system's business).
// Initially free, or held with init `true`. One lock per key.

import type { Operation } from '../../../history/types.js';
import { partitionByKey, type Model, type ModelOptions } from '../model.js';

const fs = ['acquire', 'release'];

export function makeMutex(options: ModelOptions = {}): Model<boolean> {
  const initial = options.init === true;
  return {
    name: 'mutex',
    init: () => initial,
    // Both semantics agree: acquire and release carry no value, and an unknown
    // one either happened, with the same effect as an ok one, or did not.
    step(held, op) {
      if (op.f === 'acquire') return held ? undefined : true;
      if (op.f === 'release') return held ? false : undefined;
      return undefined;
    },
    equal: (a, b) => a === b,
    hash: (held) => (held ? 1 : 0),
    describeOp(op) {
      const key = op.key !== undefined ? `[${op.key}] ` : '';
      return `${key}${op.f}${op.known ? '' : ' ?'}`;
    },
    describeState: (held) => (held ? 'held' : 'free'),
    partition: partitionByKey,
    validate(op: Operation) {
      if (!fs.includes(op.f)) return `model mutex has no f ${JSON.stringify(op.f)} (it knows acquire, release)`;
      return undefined;
    },
  };
}

export const mutex = makeMutex();
