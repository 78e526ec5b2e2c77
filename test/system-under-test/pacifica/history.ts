// Turns a PacificA simulation's history into the project's history format and
// checks it with the linearizability checker: register keys (read, write, cas)
// against the cas-register model, list keys (read, append) against the kv
// model, with a list encoded as the concatenation of "x," per element.

import { checkLinearizable, modelNamed, type LinearizabilityResult } from '../../../checkers/linearizability/index.js';
import { pairOps, type Op, type Operation, type Value } from '../../../history/index.js';
import { LIST_KEYS, type SimOp } from '../../../system-under-test/sim/pacifica-sim.js';

const listKeys = new Set<string>(LIST_KEYS);

function listString(v: SimOp['value']): string {
  if (v === null) return '';
  if (!Array.isArray(v)) throw new Error(`a list key read returned ${JSON.stringify(v)}`);
  return v.map((x) => `${String(x)},`).join('');
}

export function registerHistory(history: readonly SimOp[]): Op[] {
  return history
    .filter((o) => !listKeys.has(o.key))
    .map((o) => ({
      index: o.index,
      type: o.type,
      f: o.f,
      key: o.key,
      value: o.value as Value,
      process: o.process,
      time: o.time,
      ...(o.error !== undefined ? { error: o.error } : {}),
    }));
}

export function listHistory(history: readonly SimOp[]): Op[] {
  return history
    .filter((o) => listKeys.has(o.key))
    .map((o) => {
      const f = o.f === 'read' ? 'get' : o.f;
      let value: Value;
      if (o.f === 'read') value = o.type === 'ok' ? listString(o.value) : null;
      else value = `${String(o.value)},`;
      return { index: o.index, type: o.type, f, key: o.key, value, process: o.process, time: o.time };
    });
}

export interface LinearizabilityVerdicts {
  registers: LinearizabilityResult;
  lists: LinearizabilityResult;
  valid: boolean;
}

/**
 * Appended elements are unique, so an append whose outcome is unknown and
 * whose element no read ever returned can be taken as not having happened:
 * dropping it changes no verdict (were it linearized before some read, that
 * read would show it), and each one left in doubles the checker's search.
 */
export function dropUnobservedAppends(ops: Operation[]): Operation[] {
  // For each appended element, the read that returned it and completed first.
  const firstSeen = new Map<string, Operation>();
  for (const o of ops) {
    if (o.f !== 'get' || o.type !== 'ok') continue;
    for (const x of String(o.output).split(',')) {
      if (x === '') continue;
      const k = `${String(o.key)}:${x},`;
      const prev = firstSeen.get(k);
      if (prev === undefined || o.completeIndex < prev.completeIndex) firstSeen.set(k, o);
    }
  }
  const out: Operation[] = [];
  for (const o of ops) {
    if (o.f !== 'append' || o.type !== 'info') {
      out.push(o);
      continue;
    }
    const read = firstSeen.get(`${String(o.key)}:${String(o.input)}`);
    if (read === undefined) continue;
    // It happened, and before that read took effect: as if it completed when the read did.
    // (Equivalent for the verdict, and it no longer stays open to the end of the search.)
    out.push({ ...o, type: 'ok', completeIndex: read.completeIndex, completeTime: read.completeTime });
  }
  return out;
}

export function checkHistory(history: readonly SimOp[], budgetMs = 60_000): LinearizabilityVerdicts {
  const registers = checkLinearizable(modelNamed('cas-register'), pairOps(registerHistory(history)), { budgetMs });
  const lists = checkLinearizable(modelNamed('kv'), dropUnobservedAppends(pairOps(listHistory(history))), { budgetMs });
  return { registers, lists, valid: registers.valid === true && lists.valid === true };
}
