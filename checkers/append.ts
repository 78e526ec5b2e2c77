// Per-key append-only lists. Clients append unique elements to a key's list
// and read the whole list. For each key:
//   - every read is a prefix of one total order (the longest read seen), so
//     no two reads disagree about the order of elements;
//   - no read holds an element twice, nor one nobody appended, nor one whose
//     append definitely failed;
//   - no acknowledged append is lost: a read invoked after an append was
//     acknowledged contains it;
//   - reads respect real time: a read invoked after another read completed
//     is at least as long as it.

import type { Key, Operation, Value } from '../history/types.js';
import { validOf, type Checker, type CheckerResult } from './result.js';

type Elem = number | string;

export type AppendAnomaly =
  | { kind: 'incompatible-order'; key: Key | null; read: number; expectedPrefixOf: Elem[]; got: Elem[] }
  | { kind: 'duplicate'; key: Key | null; read: number; element: Elem }
  | { kind: 'unexpected'; key: Key | null; read: number; element: Elem }
  | { kind: 'failed-but-present'; key: Key | null; read: number; element: Elem }
  | { kind: 'lost'; key: Key | null; read: number; element: Elem; appendedAt: number }
  | { kind: 'stale-read'; key: Key | null; read: number; length: number; earlierRead: number; earlierLength: number };

export interface AppendResult extends CheckerResult {
  checker: 'append';
  keys: number;
  reads: number;
  appends: number;
  /** Anomalies found, each naming the event indices of the ops involved (at most 100 listed). */
  anomalies: AppendAnomaly[];
  anomalyCount: number;
}

const MAX_LISTED = 100;

/** `append` ops carry the element; `read` ops return the key's list. Keys come from `key`. */
export const appendChecker: Checker = (_history, operations: Operation[]): AppendResult => {
  const byKey = new Map<Key | undefined, Operation[]>();
  for (const op of operations) {
    if (op.f !== 'append' && op.f !== 'read') continue;
    let ops = byKey.get(op.key);
    if (!ops) byKey.set(op.key, (ops = []));
    ops.push(op);
  }
  const anomalies: AppendAnomaly[] = [];
  let count = 0;
  const report = (a: AppendAnomaly) => {
    count++;
    if (anomalies.length < MAX_LISTED) anomalies.push(a);
  };
  let reads = 0;
  let appends = 0;

  for (const [k, ops] of byKey) {
    const key = k ?? null;
    const appendOf = new Map<Elem, Operation>();
    for (const op of ops) if (op.f === 'append') appendOf.set(op.input as Elem, op);
    appends += appendOf.size;
    const okReads = ops.filter((op) => op.f === 'read' && op.type === 'ok').sort((a, b) => a.invokeIndex - b.invokeIndex);
    reads += okReads.length;
    const lists = new Map<Operation, Elem[]>(okReads.map((r) => [r, (Array.isArray(r.output) ? r.output : []) as Elem[]]));

    // The longest read defines the order every other read must be a prefix of.
    let longest: Elem[] = [];
    for (const list of lists.values()) if (list.length > longest.length) longest = list;

    for (const [read, list] of lists) {
      const seen = new Set<Elem>();
      for (let i = 0; i < list.length; i++) {
        const x = list[i];
        if (seen.has(x)) report({ kind: 'duplicate', key, read: read.completeIndex, element: x });
        seen.add(x);
        const append = appendOf.get(x);
        if (!append) report({ kind: 'unexpected', key, read: read.completeIndex, element: x });
        else if (append.type === 'fail') report({ kind: 'failed-but-present', key, read: read.completeIndex, element: x });
      }
      if (!isPrefix(list, longest)) report({ kind: 'incompatible-order', key, read: read.completeIndex, expectedPrefixOf: longest, got: list });
      // Acknowledged before this read began: must be in it.
      for (const [x, append] of appendOf) {
        if (append.type === 'ok' && append.completeIndex < read.invokeIndex && !seen.has(x)) {
          report({ kind: 'lost', key, read: read.completeIndex, element: x, appendedAt: append.completeIndex });
        }
      }
    }

    // Real-time order of reads: compare each read with the longest read that
    // completed before it began (reads sorted by invocation, so a running max
    // over completions in order of completion index is needed).
    const byCompletion = [...okReads].sort((a, b) => a.completeIndex - b.completeIndex);
    let j = 0;
    let longestBefore: Operation | undefined;
    for (const read of okReads) {
      while (j < byCompletion.length && byCompletion[j].completeIndex < read.invokeIndex) {
        const done = byCompletion[j++];
        if (!longestBefore || lists.get(done)!.length > lists.get(longestBefore)!.length) longestBefore = done;
      }
      if (longestBefore && lists.get(read)!.length < lists.get(longestBefore)!.length) {
        report({
          kind: 'stale-read',
          key,
          read: read.completeIndex,
          length: lists.get(read)!.length,
          earlierRead: longestBefore.completeIndex,
          earlierLength: lists.get(longestBefore)!.length,
        });
      }
    }
  }

  const verdict = count > 0 ? 'invalid' : reads === 0 ? 'unknown' : 'valid';
  return { checker: 'append', verdict, valid: validOf(verdict), keys: byKey.size, reads, appends, anomalies, anomalyCount: count };
};

function isPrefix(a: readonly Value[], b: readonly Value[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
