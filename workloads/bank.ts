// Jepsen's bank: transfers between accounts of one replication group (the
// `{bank}` hash tag puts them together) and reads of every balance. The total
// is conserved and no balance goes negative (the system refuses a transfer
// that would overdraw: a definite fail).

import { fromFn, mix } from '../harness/generator/index.js';
import type { Value } from '../history/types.js';
import { completion } from './outcome.js';
import type { Workload } from './types.js';

export interface BankParams {
  readonly accounts: number;
  readonly total: number;
  readonly maxTransfer: number;
}

export const DEFAULT_BANK: BankParams = { accounts: 5, total: 100, maxTransfer: 5 };

export function bankWorkload(p: BankParams = DEFAULT_BANK): Workload {
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
    async setup(kv, signal) {
      // Opening balances, each written until it certainly took effect: an
      // unknown outcome is retried, which is safe for a plain write of the
      // same value before any transfer runs.
      for (const [i, account] of accounts.entries()) {
        for (let attempt = 0; ; attempt++) {
          const r = await kv.write(account, opening(i), signal);
          if (r.type === 'ok') break;
          if (signal.aborted || attempt >= 50) throw new Error(`bank setup: cannot write ${account}: ${r.error}`);
          await new Promise((res) => setTimeout(res, 100));
        }
      }
    },
    async invoke(kv, op, signal) {
      switch (op.f) {
        case 'transfer': {
          const t = op.value as { from: string; to: string; amount: number };
          return completion(await kv.transfer(t.from, t.to, t.amount, signal));
        }
        case 'read':
          return completion(await kv.readMany(accounts, signal), (v) => {
            const balances = (v ?? {}) as Record<string, unknown>;
            return Object.fromEntries(accounts.map((a) => [a, balances[a] ?? 0])) as Value;
          });
        default:
          throw new Error(`bank: unknown op ${op.f}`);
      }
    },
  };
}
