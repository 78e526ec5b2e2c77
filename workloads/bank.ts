// Jepsen's bank: transfers between accounts and reads of every balance. The
// total is conserved and no balance goes negative (the system refuses a
// transfer that would overdraw: a definite fail). The `{bank}` hash tag in the
// account names keeps them in one replication group on systems that place
// keys by tag (the reference system), so a transfer is one group's.

import { bankChecker } from '../checkers/index.js';
import { fromFn, mix } from '../harness/core/generator/index.js';
import type { WorkloadDefinition } from '../harness/core/workload.js';
import { InputError } from '../history/input-error.js';
import { withStatsAndPerf } from './generators.js';

export interface BankParams {
  readonly accounts: number;
  readonly total: number;
  readonly maxTransfer: number;
}

export const DEFAULT_BANK: BankParams = { accounts: 5, total: 100, maxTransfer: 5 };

export const bank: WorkloadDefinition = {
  name: 'bank',
  summary: 'transfers between accounts, reads of every balance; total conserved, none negative',
  make() {
    const p = DEFAULT_BANK;
    const accounts = Array.from({ length: p.accounts }, (_, i) => `{bank}a${i}`);
    const opening = (i: number) => Math.floor(p.total / p.accounts) + (i < p.total % p.accounts ? 1 : 0);
    return {
      name: 'bank',
      options: { total: p.total, accounts, negativeAllowed: false },
      generator: mix([
        fromFn((ctx) => {
          const from = ctx.random.int(p.accounts);
          const to = (from + 1 + ctx.random.int(p.accounts - 1)) % p.accounts;
          return { f: 'transfer', value: { from: accounts[from], to: accounts[to], amount: 1 + ctx.random.int(p.maxTransfer) } };
        }),
        fromFn(() => ({ f: 'read' })),
      ]),
      final: null,
      // Opening balances: plain writes of fixed values before any transfer, so repeating one whose outcome was unknown is safe.
      setup: accounts.map((account, i) => ({ f: 'write', key: account, value: opening(i) })),
    };
  },
  checkers: (test) => {
    const total = test.workloadOptions?.total;
    if (typeof total !== 'number') throw new InputError('the bank workload needs workloadOptions.total (the starting sum of all balances) in test.json');
    return withStatsAndPerf({ bank: bankChecker({ total, negativeAllowed: test.workloadOptions?.negativeAllowed === true }) });
  },
};
