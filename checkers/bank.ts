// Jepsen's bank checker: transfers move money between accounts, reads return
// every balance. Every read must see the same total (money is neither created
// nor destroyed) and, unless allowed, no negative balance.

import type { Operation } from '../history/types.js';
import { validOf, type Checker, type CheckerResult } from './result.js';

export interface BankOptions {
  /** The total of all balances at the start. */
  total: number;
  /** Whether a balance may go below zero. Default false. */
  negativeAllowed?: boolean;
}

export type BankAnomaly =
  | { kind: 'wrong-total'; read: number; total: number; expected: number; balances: Record<string, number> }
  | { kind: 'negative'; read: number; account: string; balance: number }
  | { kind: 'malformed-read'; read: number; value: unknown };

export interface BankResult extends CheckerResult {
  checker: 'bank';
  reads: number;
  transfers: { ok: number; fail: number; info: number };
  anomalies: BankAnomaly[];
  anomalyCount: number;
}

const MAX_LISTED = 100;

/** `transfer` ops carry {from, to, amount}; `read` ops return {account: balance}. */
export function bankChecker(options: BankOptions): Checker {
  return (_history, operations: Operation[]): BankResult => {
    const anomalies: BankAnomaly[] = [];
    let count = 0;
    const report = (a: BankAnomaly) => {
      count++;
      if (anomalies.length < MAX_LISTED) anomalies.push(a);
    };
    const transfers = { ok: 0, fail: 0, info: 0 };
    let reads = 0;
    for (const op of operations) {
      if (op.f === 'transfer') transfers[op.type]++;
      if (op.f !== 'read' || op.type !== 'ok') continue;
      reads++;
      const balances = op.output;
      if (balances === null || typeof balances !== 'object' || Array.isArray(balances) || !Object.values(balances).every((b) => typeof b === 'number')) {
        report({ kind: 'malformed-read', read: op.completeIndex, value: balances });
        continue;
      }
      const accounts = balances as Record<string, number>;
      const total = Object.values(accounts).reduce((a, b) => a + b, 0);
      if (total !== options.total) report({ kind: 'wrong-total', read: op.completeIndex, total, expected: options.total, balances: accounts });
      if (!options.negativeAllowed) {
        for (const [account, balance] of Object.entries(accounts)) {
          if (balance < 0) report({ kind: 'negative', read: op.completeIndex, account, balance });
        }
      }
    }
    const verdict = count > 0 ? 'invalid' : reads === 0 ? 'unknown' : 'valid';
    return { checker: 'bank', verdict, valid: validOf(verdict), reads, transfers, anomalies, anomalyCount: count };
  };
}
