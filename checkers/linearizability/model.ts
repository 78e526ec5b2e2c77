// The model interface, after Porcupine's: a sequential specification the
// checker steps through while it searches for a linearization. Users add their
// own models by implementing this and passing it to `checkLinearizable`.

import type { Key, Operation, Value } from '../../history/types.js';

/**
 * Whose reading of a history the models follow. `undertow`: an ok read of nil
 * saw nil, and an ok dequeue of nil saw an empty queue. `knossos`: as Knossos's
 * models (knossos/model.clj) do: an ok read of nil (also a read inside a txn)
 * constrains nothing, an ok op acts with its completion's value, any other op
 * with its invocation's value, and nil is an ordinary queue element, so a
 * dequeue of an empty queue is impossible and an unknown dequeue (invoked with
 * nil) can only have taken nil.
 */
export type Semantics = 'undertow' | 'knossos';

/** How to build one of the bundled models (`modelNamed`). */
export interface ModelOptions {
  /** The initial state, as a plain value: Knossos's `(cas-register 0)` is `init: 0`. */
  init?: Value;
  semantics?: Semantics;
}

/** What a model sees of one operation. */
export interface ModelOp {
  f: string;
  key?: Key;
  /** The invocation's argument. */
  input: Value;
  /** The observed result; meaningless when `known` is false. */
  output: Value;
  /**
   * False for an op whose outcome is unknown (`info`): the model must accept it
   * in every state where it could have taken effect, with any result.
   */
  known: boolean;
}

export interface Model<S> {
  /** The name users pass to `--model`. */
  readonly name: string;
  /** The state before any operation. States are never `undefined`. */
  init(): S;
  /**
   * The state after `op` in `state`, or `undefined` if `op` cannot happen in
   * `state` with its observed output. Must not mutate `state`.
   */
  step(state: S, op: ModelOp): S | undefined;
  /** Structural equality of states. */
  equal(a: S, b: S): boolean;
  /**
   * A 32-bit hash consistent with `equal`. Optional: without it the search
   * buckets states by the set of linearized ops alone, as Porcupine does, which
   * is slow only when many distinct states share a set (kv appends).
   */
  hash?(state: S): number;
  /**
   * About how many bytes `state` holds beyond a small fixed object, for the
   * memory budget. Optional; models whose states grow with the history (kv
   * strings, sets) give it, or a budget of 1 GiB can mean several GiB of heap.
   */
  size?(state: S): number;
  describeOp(op: ModelOp): string;
  describeState(state: S): string;
  /**
   * Splits a history into parts checked alone (P-compositionality), e.g. by key.
   * Without it the whole history is one part.
   */
  partition?(ops: Operation[]): Map<Key | undefined, Operation[]>;
  /** Why `op` does not fit this model (unknown f, wrong value shape), or undefined. */
  validate?(op: Operation): string | undefined;
  /**
   * True if `op` never changes the state (a read). An unknown outcome of such
   * an op constrains nothing, so the checker drops it.
   */
  readOnly?(op: Operation): boolean;
  /**
   * Drops, from one part, unknown-outcome ops that provably cannot change the
   * verdict, before the search: an info op stays concurrent with everything
   * after it, so each one left in can double the search's worst case.
   * Must keep the verdict exactly: linearizable with the ops iff without.
   */
  prune?(ops: Operation[]): Operation[];
}

/** Partition by the `key` field: each key is an independent object. */
export function partitionByKey(ops: Operation[]): Map<Key | undefined, Operation[]> {
  const parts = new Map<Key | undefined, Operation[]>();
  for (const op of ops) {
    let part = parts.get(op.key);
    if (!part) parts.set(op.key, (part = []));
    part.push(op);
  }
  return parts;
}

/** FNV-1a over a string. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** Equality for plain values (deep for arrays and objects). */
export function valueEqual(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valueEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!(k in b) || !valueEqual(a[k], (b as Record<string, Value>)[k])) return false;
  return true;
}

export function show(v: Value): string {
  return v === null ? 'nil' : JSON.stringify(v);
}

/** A 32-bit hash of a plain value, consistent with valueEqual (key order ignored). */
export function hashValue(v: Value): number {
  if (typeof v === 'number') return Number.isInteger(v) ? Math.imul(v | 0, 0x9e3779b1) ^ ((v / 0x100000000) | 0) : hashString(String(v));
  return hashString(canonical(v));
}

/** JSON with object keys sorted: equal values (valueEqual) give equal strings. */
export function canonical(v: Value): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
    .join(',')}}`;
}
