// A string-valued map with get, put and append, as Porcupine's kv model: every
// key starts as "" (or the string given as its initial value), append
// concatenates. Keys are independent, so the history
// is split by key and each part's state is just that key's string.
//
// The state carries a polynomial hash of its string, updated per append in
// time proportional to the appended text: values grow long under appends, and
// hashing them whole at every search step would dominate the search.

import type { Operation } from '../../../history/types.js';
import { partitionByKey, show, type Model, type ModelOptions } from '../model.js';

export interface KvState {
  readonly value: string;
  readonly hash: number;
}

const fs = ['get', 'put', 'append'];
const BASE = 0x01000193;

function extend(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, BASE) + text.charCodeAt(i)) | 0;
  return h;
}

/** Knossos has no kv model, so its semantics change nothing here. */
export function makeKv(options: ModelOptions = {}): Model<KvState> {
  const value = (options.init ?? '') as string;
  const initial: KvState = { value, hash: extend(0, value) };
  return { ...kvModel, init: () => initial };
}

const kvModel: Model<KvState> = {
  name: 'kv',
  init: () => ({ value: '', hash: 0 }),
  step(state, op) {
    switch (op.f) {
      case 'get':
        return !op.known || op.output === state.value ? state : undefined;
      case 'put': {
        const value = op.input as string;
        return { value, hash: extend(0, value) };
      }
      case 'append': {
        const text = op.input as string;
        return { value: state.value + text, hash: extend(state.hash, text) };
      }
      default:
        return undefined;
    }
  },
  equal: (a, b) => a.hash === b.hash && a.value === b.value,
  hash: (s) => s.hash,
  // A flat copy of the string once `equal` has compared it (V8 flattens a
  // concatenation when it is compared): a byte a character for Latin-1 text.
  size: (s) => 16 + s.value.length,
  describeOp(op) {
    const key = op.key !== undefined ? `[${op.key}] ` : '';
    if (op.f === 'get') return `${key}get -> ${op.known ? show(op.output) : '?'}`;
    return `${key}${op.f} ${show(op.input)}${op.known ? '' : ' ?'}`;
  },
  describeState: (s) => show(s.value),
  partition: partitionByKey,
  validate(op: Operation) {
    if (!fs.includes(op.f)) return `model kv has no f ${JSON.stringify(op.f)} (it knows ${fs.join(', ')})`;
    if (op.key === undefined) return `kv ops need a :key`;
    if (op.f !== 'get' && typeof op.input !== 'string') return `${op.f} needs a string value, got ${show(op.input)}`;
    if (op.f === 'get' && op.type === 'ok' && typeof op.output !== 'string') {
      return `get must return a string, got ${show(op.output)}`;
    }
    return undefined;
  },
  readOnly: (op) => op.f === 'get',
};

export const kv = makeKv();
