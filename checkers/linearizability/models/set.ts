// A grow-only set per key: add x, and read returning every element. The state
// is kept as a sorted array of distinct elements so equal sets are equal arrays.

import type { Operation, Value } from '../../../history/types.js';
import { partitionByKey, show, type Model, type ModelOptions } from '../model.js';

type Elem = number | string;
const fs = ['add', 'read'];

function compare(a: Elem, b: Elem): number {
  if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
  return typeof a === 'number' ? -1 : 1;
}

function sameSet(state: readonly Elem[], read: Value): boolean {
  if (!Array.isArray(read)) return false;
  const sorted = [...new Set(read as Elem[])].sort(compare);
  if (sorted.length !== read.length || sorted.length !== state.length) return false;
  for (let i = 0; i < sorted.length; i++) if (sorted[i] !== state[i]) return false;
  return true;
}

/** The initial elements come as a list; Knossos's set reads the same, so its semantics change nothing. */
export function makeSet(options: ModelOptions = {}): Model<readonly Elem[]> {
  const initial = [...new Set((options.init ?? []) as Elem[])].sort(compare);
  return { ...setModel, init: () => initial };
}

const setModel: Model<readonly Elem[]> = {
  name: 'set',
  init: () => [],
  step(state, op) {
    switch (op.f) {
      case 'add': {
        const x = op.input as Elem;
        let lo = 0;
        let hi = state.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (compare(state[mid], x) < 0) lo = mid + 1;
          else hi = mid;
        }
        if (state[lo] === x) return state;
        return [...state.slice(0, lo), x, ...state.slice(lo)];
      }
      case 'read':
        return !op.known || sameSet(state, op.output) ? state : undefined;
      default:
        return undefined;
    }
  },
  size: (s) => 8 * s.length,
  equal(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  },
  describeOp(op) {
    const key = op.key !== undefined ? `[${op.key}] ` : '';
    if (op.f === 'read') return `${key}read -> ${op.known ? show(op.output) : '?'}`;
    return `${key}add ${show(op.input)}${op.known ? '' : ' ?'}`;
  },
  describeState: (s) => `#{${s.map((x) => show(x)).join(' ')}}`,
  partition: partitionByKey,
  validate(op: Operation) {
    if (!fs.includes(op.f)) return `model set has no f ${JSON.stringify(op.f)} (it knows add, read)`;
    if (op.f === 'add' && typeof op.input !== 'number' && typeof op.input !== 'string') {
      return `add needs a number or string element, got ${show(op.input)}`;
    }
    if (op.f === 'read' && op.type === 'ok' && !Array.isArray(op.output)) {
      return `read must return a list of elements, got ${show(op.output)}`;
    }
    return undefined;
  },
  readOnly: (op) => op.f === 'read',
};

export const set = makeSet();
