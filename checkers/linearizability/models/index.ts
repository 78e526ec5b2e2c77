import { InputError } from '../../../history/input-error.js';
import type { Value } from '../../../history/types.js';
import type { Model, ModelOptions } from '../model.js';
import { kv, makeKv } from './kv.js';
import { makeMultiRegister, multiRegister } from './multi-register.js';
import { makeMutex, mutex } from './mutex.js';
import { fifoQueue, makeFifoQueue, makeUnorderedQueue, unorderedQueue } from './queue.js';
import { casRegister, makeRegister, register } from './register.js';
import { makeSet, set } from './set.js';

export { kv, casRegister, register, set, mutex, multiRegister, fifoQueue, unorderedQueue };
export { makeKv, makeRegister, makeSet, makeMutex, makeMultiRegister, makeFifoQueue, makeUnorderedQueue };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyModel = Model<any>;

interface Entry {
  make(options: ModelOptions): AnyModel;
  /** What an initial value must be, for messages; and whether `v` is one. */
  init: { what: string; ok(v: Value): boolean };
}

const any = { what: 'any value', ok: () => true };
const scalar = (v: Value) => typeof v === 'number' || typeof v === 'string';
const list = { what: 'a list of elements, e.g. [1,2]', ok: (v: Value) => Array.isArray(v) };

const entries: Record<string, Entry> = {
  register: { make: (o) => makeRegister('register', false, o), init: any },
  'cas-register': { make: (o) => makeRegister('cas-register', true, o), init: any },
  kv: { make: makeKv, init: { what: 'a string', ok: (v) => typeof v === 'string' } },
  set: { make: makeSet, init: { what: 'a list of numbers or strings, e.g. [1,2]', ok: (v) => Array.isArray(v) && v.every(scalar) } },
  mutex: { make: makeMutex, init: { what: 'true (held) or false (free)', ok: (v) => typeof v === 'boolean' } },
  'multi-register': {
    make: makeMultiRegister,
    init: { what: 'a map of register names to values, e.g. {"x":0,"y":0}', ok: (v) => v !== null && typeof v === 'object' && !Array.isArray(v) },
  },
  'fifo-queue': { make: makeFifoQueue, init: list },
  'unordered-queue': { make: makeUnorderedQueue, init: list },
};

/** The bundled models with their default options (initial state nil or empty, our semantics). */
export const models: ReadonlyMap<string, AnyModel> = new Map<string, AnyModel>(
  [register, casRegister, kv, set, mutex, multiRegister, fifoQueue, unorderedQueue].map((m) => [m.name, m]),
);

/** A bundled model by name, built with `options` (an initial state, Knossos's semantics). */
export function modelNamed(name: string, options: ModelOptions = {}): AnyModel {
  const entry = Object.hasOwn(entries, name) ? entries[name] : undefined;
  if (!entry) {
    throw new InputError(`unknown model ${JSON.stringify(name)}`, {}, `use one of: ${[...models.keys()].join(', ')}`);
  }
  if (options.init === undefined && (options.semantics ?? 'undertow') === 'undertow') return models.get(name)!;
  if (options.init !== undefined && !entry.init.ok(options.init)) {
    throw new InputError(`the initial value of model ${name} must be ${entry.init.what}, got ${JSON.stringify(options.init)}`);
  }
  return entry.make(options);
}
