// Registers: a single value per key, read and written whole; the cas-register
// adds compare-and-set. Initial value nil (the key is absent). Each key is an
// independent register (P-compositional), so the history is split by key.

import type { Operation, Value } from '../../../history/types.js';
import { partitionByKey, show, valueEqual, type Model, type ModelOp } from '../model.js';

function makeRegister(name: string, withCas: boolean): Model<Value> {
  const fs = withCas ? ['read', 'write', 'cas'] : ['read', 'write'];
  return {
    name,
    init: () => null,
    step(state, op) {
      switch (op.f) {
        case 'read':
          // An unknown read changes nothing; a known one must see the state.
          return !op.known || valueEqual(op.output, state) ? state : undefined;
        case 'write':
          return op.input;
        case 'cas': {
          const fromTo = op.input as [Value, Value];
          if (valueEqual(state, fromTo[0])) return fromTo[1];
          // A cas whose compare failed changes nothing; an ok cas asserts the compare held.
          return op.known ? undefined : state;
        }
        default:
          return undefined;
      }
    },
    equal: valueEqual,
    describeOp: describeRegisterOp,
    describeState: (s) => show(s),
    partition: partitionByKey,
    validate(op: Operation) {
      if (!fs.includes(op.f)) return `model ${name} has no f ${JSON.stringify(op.f)} (it knows ${fs.join(', ')})`;
      if (op.f === 'cas' && !(Array.isArray(op.input) && op.input.length === 2)) {
        return `cas needs a [from to] value, got ${show(op.input)}`;
      }
      return undefined;
    },
    readOnly: (op) => op.f === 'read',
  };
}

export function describeRegisterOp(op: ModelOp): string {
  const key = op.key !== undefined ? `[${op.key}] ` : '';
  switch (op.f) {
    case 'read':
      return `${key}read -> ${op.known ? show(op.output) : '?'}`;
    case 'cas': {
      const [from, to] = op.input as [Value, Value];
      return `${key}cas ${show(from)} -> ${show(to)}${op.known ? '' : ' ?'}`;
    }
    default:
      return `${key}${op.f} ${show(op.input)}${op.known ? '' : ' ?'}`;
  }
}

export const register = makeRegister('register', false);
export const casRegister = makeRegister('cas-register', true);
