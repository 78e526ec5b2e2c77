// Several registers read and written together, as Knossos's multi-register:
// the one f is txn, whose value is a list of micro-ops [f k v], f being read
// or write (Jepsen writes [:read :x nil] / [:write :x 2]; Elle's spelling
// [:r :x nil] / [:w :x 2] is read too). A txn happens atomically, so all the
// registers are one object: the history is not split by the registers' keys
// (only by an independent :key, if the ops have one).
//
// The state maps register names to values; a register never written holds
// nil (or its value in init, a map such as {"x": 0, "y": 0}, as Knossos's
// `(multi-register {:x 0 :y 0})`). Names are compared as strings, so EDN's
// :x, JSON's "x", and 1 vs "1" name the same register.

import type { Operation, Value } from '../../../history/types.js';
import { canonical, hashString, partitionByKey, show, valueEqual, type Model, type ModelOp, type ModelOptions } from '../model.js';

export interface MultiRegisterState {
  /** [name, value] pairs sorted by name; registers holding nil are left out, so equal states are equal lists. */
  readonly entries: readonly (readonly [string, Value])[];
  readonly hash: number;
}

type Micro = ['read' | 'write', string, Value];

const SPELLINGS: Record<string, 'read' | 'write'> = { read: 'read', r: 'read', write: 'write', w: 'write' };

function state(entries: (readonly [string, Value])[]): MultiRegisterState {
  return { entries, hash: hashString(entries.map(([k, v]) => `${k}\u0000${canonical(v)}`).join('\u0000')) };
}

function get(entries: readonly (readonly [string, Value])[], name: string): Value {
  for (const [k, v] of entries) if (k === name) return v;
  return null;
}

function put(entries: (readonly [string, Value])[], name: string, value: Value): void {
  let i = 0;
  while (i < entries.length && entries[i][0] < name) i++;
  const present = i < entries.length && entries[i][0] === name;
  if (value === null) {
    if (present) entries.splice(i, 1);
  } else if (present) entries[i] = [name, value];
  else entries.splice(i, 0, [name, value]);
}

/** The micro-ops of a txn value, or why it is not one. */
function micros(value: Value): Micro[] | string {
  if (!Array.isArray(value)) return `a txn is a list of [f k v] micro-ops, got ${show(value)}`;
  const out: Micro[] = [];
  for (const m of value) {
    if (!Array.isArray(m) || m.length !== 3) return `a txn micro-op is [f k v] (e.g. [:read :x nil] or [:write :x 2]), got ${show(m)}`;
    const f = typeof m[0] === 'string' ? SPELLINGS[m[0]] : undefined;
    if (f === undefined) return `a txn micro-op's f is read or write (or r, w), got ${show(m[0])}`;
    if (typeof m[1] !== 'string' && typeof m[1] !== 'number') return `a txn micro-op's key is a name or a number, got ${show(m[1])}`;
    out.push([f, String(m[1]), m[2]]);
  }
  return out;
}

// Parsed once per value: the search steps through the same ops many times.
const parsed = new WeakMap<Value[], Micro[]>();
function microsOf(value: Value): Micro[] {
  let ms = parsed.get(value as Value[]);
  if (!ms) parsed.set(value as Value[], (ms = micros(value) as Micro[]));
  return ms;
}

export function makeMultiRegister(options: ModelOptions = {}): Model<MultiRegisterState> {
  const knossos = options.semantics === 'knossos';
  const init: (readonly [string, Value])[] = [];
  for (const [name, value] of Object.entries((options.init ?? {}) as Record<string, Value>)) put(init, name, value);
  const initial = state(init);

  const describe = (ms: Micro[]) => ms.map(([f, k, v]) => `${f === 'read' ? 'r' : 'w'} ${k} ${show(v)}`).join(', ');
  return {
    name: 'multi-register',
    init: () => initial,
    step(s, op) {
      if (op.f !== 'txn') return undefined;
      // A known txn is stepped with its completion (which has the values read);
      // an unknown one with its invocation, whose reads say nothing (nil), so
      // only its writes count, except that Knossos steps its reads too.
      const ms = microsOf(op.known ? op.output : op.input);
      // Copied on the first write: most txns in a register test only read.
      let entries: (readonly [string, Value])[] | undefined;
      for (const [f, k, v] of ms) {
        if (f === 'read') {
          if (!op.known && !knossos) continue;
          // Knossos: "nil reads are always legal".
          if (knossos && v === null) continue;
          if (!valueEqual(get(entries ?? s.entries, k), v)) return undefined;
        } else {
          entries ??= [...s.entries];
          put(entries, k, v);
        }
      }
      return entries ? state(entries) : s;
    },
    equal(a, b) {
      if (a.hash !== b.hash || a.entries.length !== b.entries.length) return false;
      for (let i = 0; i < a.entries.length; i++) {
        if (a.entries[i][0] !== b.entries[i][0] || !valueEqual(a.entries[i][1], b.entries[i][1])) return false;
      }
      return true;
    },
    hash: (s) => s.hash,
    describeOp(op: ModelOp) {
      const key = op.key !== undefined ? `[${op.key}] ` : '';
      return op.known ? `${key}txn ${describe(microsOf(op.output))}` : `${key}txn ${describe(microsOf(op.input))} ?`;
    },
    describeState: (s) => `{${s.entries.map(([k, v]) => `${k} ${show(v)}`).join(', ')}}`,
    partition: partitionByKey,
    validate(op: Operation) {
      if (op.f !== 'txn') return `model multi-register has no f ${JSON.stringify(op.f)} (it knows txn)`;
      const inv = micros(op.input);
      if (typeof inv === 'string') return inv;
      if (op.type === 'ok') {
        const done = micros(op.output);
        if (typeof done === 'string') return `${done} (in the completion)`;
      }
      return undefined;
    },
    // A txn of reads only changes nothing: an unknown one is dropped, an ok one is a forced move.
    // (An ok one is stepped with its completion, so that must hold only reads too.)
    readOnly: (op) => readsOnly(op.input) && (op.type !== 'ok' || readsOnly(op.output)),
  };
}

function readsOnly(value: Value): boolean {
  return Array.isArray(value) && value.every((m) => Array.isArray(m) && SPELLINGS[m[0] as string] === 'read');
}

export const multiRegister = makeMultiRegister();
