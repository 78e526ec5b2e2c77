// Registers: a single value per key, read and written whole; the cas-register
// adds compare-and-set. Initial value nil (the key is absent) unless given, as
// Knossos's `(cas-register 0)`. Each key is an independent register
// (P-compositional), so the history is split by key.

import type { Operation, Value } from '../../../history/types.js';
import { partitionByKey, show, valueEqual, type Model, type ModelOp, type ModelOptions } from '../model.js';

export function makeRegister(name: string, withCas: boolean, options: ModelOptions = {}): Model<Value> {
  const fs = withCas ? ['read', 'write', 'cas'] : ['read', 'write'];
  const initial = options.init ?? null;
  const knossos = options.semantics === 'knossos';
  // Knossos fills an ok op's invocation with its completion's value and steps with that.
  const argument = knossos ? (op: ModelOp) => (op.known ? op.output : op.input) : (op: ModelOp) => op.input;
  return {
    name,
    init: () => initial,
    step(state, op) {
      switch (op.f) {
        case 'read':
          // An unknown read changes nothing; a known one must see the state.
          // Knossos reads a nil result as "the value is not known".
          return !op.known || valueEqual(op.output, state) || (knossos && op.output === null) ? state : undefined;
        case 'write':
          return argument(op);
        case 'cas': {
          const fromTo = argument(op) as [Value, Value];
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
      if (knossos && op.f === 'cas' && op.type === 'ok' && !(Array.isArray(op.output) && op.output.length === 2)) {
        return `cas must complete with its [from to] value (Knossos steps with it), got ${show(op.output)}`;
      }
      return undefined;
    },
    readOnly: (op) => op.f === 'read',
    prune: pruneUnreadWrites,
  };
}

/**
 * Drops unknown writes (and unknown cas) whose value nothing ever saw: no ok
 * read returned it and no ok or unknown cas compared against it. Such ops are
 * the bulk of a partition's timeouts, writes to a cut-off primary that never
 * committed, and each one left in multiplies the search.
 *
 * Why the verdict is kept: take a linearization that places such a write W(v).
 * Until the next op that changes the state, everything placed after W sees v,
 * so it can only be an unknown cas whose compare fails (no read returns v and
 * no cas compares with v). Remove W and move those no-op cas ops to the end,
 * where nothing observes what they do: a linearization without W. The other
 * way, an op of unknown outcome may always be placed last. Dropping a cas
 * removes a comparison, which may leave another write unseen, so repeat.
 * Only primitive values are compared; a write of an object or array stays.
 */
export function pruneUnreadWrites(ops: Operation[]): Operation[] {
  let kept = ops;
  for (;;) {
    const seen = new Set<Value>();
    for (const op of kept) {
      if (op.f === 'read' && op.type === 'ok') seen.add(op.output);
      else if (op.f === 'cas' && op.type !== 'fail') {
        seen.add((op.input as [Value, Value])[0]);
        // Under Knossos's semantics an ok cas compares with its completion's value.
        if (op.type === 'ok' && Array.isArray(op.output)) seen.add(op.output[0]);
      }
    }
    const unseen = (v: Value) => (v === null || typeof v !== 'object') && !seen.has(v);
    const next = kept.filter(
      (op) => !(op.type === 'info' && (op.f === 'write' ? unseen(op.input) : op.f === 'cas' && unseen((op.input as [Value, Value])[1]))),
    );
    if (next.length === kept.length) return kept;
    kept = next;
  }
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
