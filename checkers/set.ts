// Jepsen's set checker: clients add unique elements, and a final read (after
// the faults are healed) returns the whole set. Every acknowledged add must be
// in it (else lost), nothing may be in it that nobody tried to add (else
// unexpected), and nothing whose add definitely failed. Elements whose add had
// an unknown outcome may or may not be there; those present are "recovered".

import type { Operation, Value } from '../history/types.js';
import { validOf, type Checker, type CheckerResult } from './result.js';

type Elem = number | string;

export interface SetResult extends CheckerResult {
  checker: 'set';
  attempted: number;
  acknowledged: number;
  /** Acknowledged adds missing from the final read. */
  lost: Elem[];
  /** Elements in the final read that no op ever tried to add. */
  unexpected: Elem[];
  /** Elements in the final read whose add failed, which says it never happened. */
  failedButPresent: Elem[];
  /** Elements in the final read whose add had an unknown outcome. */
  recovered: Elem[];
  /** Unknown-outcome adds missing from the final read (allowed). */
  neverRead: number;
  /** Index of the final read's completion, or null if there was none. */
  finalRead: number | null;
}

const sorted = (xs: Iterable<Elem>): Elem[] => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** `add` ops carry the element; `read` ops return the list of elements. */
export const setChecker: Checker = (_history, operations: Operation[]): SetResult => {
  const status = new Map<Elem, Operation['type']>();
  for (const op of operations) {
    if (op.f !== 'add') continue;
    const x = op.input as Elem;
    // An element added twice counts as acknowledged if any add of it was.
    const before = status.get(x);
    if (before !== 'ok') status.set(x, op.type === 'ok' ? 'ok' : before === 'info' || op.type === 'info' ? 'info' : 'fail');
  }
  const reads = operations.filter((op) => op.f === 'read' && op.type === 'ok');
  const final = reads.reduce<Operation | undefined>((a, op) => (a === undefined || op.completeIndex > a.completeIndex ? op : a), undefined);
  const result: SetResult = {
    checker: 'set',
    verdict: 'unknown',
    valid: 'unknown',
    attempted: status.size,
    acknowledged: [...status.values()].filter((s) => s === 'ok').length,
    lost: [],
    unexpected: [],
    failedButPresent: [],
    recovered: [],
    neverRead: 0,
    finalRead: final ? final.completeIndex : null,
  };
  if (!final) return result; // Nothing was read: nothing can be said.

  const present = new Set((final.output as Value[]).filter((x): x is Elem => typeof x === 'number' || typeof x === 'string'));
  for (const [x, s] of status) {
    if (s === 'ok' && !present.has(x)) result.lost.push(x);
    if (s === 'fail' && present.has(x)) result.failedButPresent.push(x);
    if (s === 'info' && present.has(x)) result.recovered.push(x);
    if (s === 'info' && !present.has(x)) result.neverRead++;
  }
  for (const x of present) if (!status.has(x)) result.unexpected.push(x);
  result.lost = sorted(result.lost);
  result.unexpected = sorted(result.unexpected);
  result.failedButPresent = sorted(result.failedButPresent);
  result.recovered = sorted(result.recovered);
  result.verdict = result.lost.length + result.unexpected.length + result.failedButPresent.length === 0 ? 'valid' : 'invalid';
  result.valid = validOf(result.verdict);
  return result;
};
