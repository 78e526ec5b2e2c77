// What every checker returns, and Jepsen's `compose`: several checkers over
// one history, with one verdict that is the worst of theirs.

import type { History, Operation } from '../history/types.js';

export type Verdict = 'valid' | 'invalid' | 'unknown';

export interface CheckerResult {
  checker: string;
  verdict: Verdict;
  /** Jepsen's `:valid?`: true, false or "unknown". */
  valid: true | false | 'unknown';
  [detail: string]: unknown;
}

/** A checker reads the whole history (nemesis ops included) and its paired client operations. */
export type Checker = (history: History, operations: Operation[]) => CheckerResult;

export function validOf(verdict: Verdict): true | false | 'unknown' {
  return verdict === 'valid' ? true : verdict === 'invalid' ? false : 'unknown';
}

/** invalid beats unknown beats valid. */
export function worst(verdicts: Verdict[]): Verdict {
  if (verdicts.includes('invalid')) return 'invalid';
  if (verdicts.includes('unknown')) return 'unknown';
  return 'valid';
}

export interface ComposedResult {
  checker: 'compose';
  verdict: Verdict;
  valid: true | false | 'unknown';
  results: Record<string, CheckerResult>;
}

/** Runs each checker on the same history; the verdict is the worst of theirs. */
export function compose(checkers: Record<string, Checker>): (history: History, operations: Operation[]) => ComposedResult {
  return (history, operations) => {
    const results: Record<string, CheckerResult> = {};
    for (const [name, check] of Object.entries(checkers)) results[name] = check(history, operations);
    const verdict = worst(Object.values(results).map((r) => r.verdict));
    return { checker: 'compose', verdict, valid: validOf(verdict), results };
  };
}
