// Which checkers judge each workload's history. Every workload composes its
// own property with stats (ok, fail and info counts per f) and perf (latency
// and throughput). The clients and generators join these in issue 5.

import { appendChecker, bankChecker, compose, linearizable, perfChecker, setChecker, statsChecker, type Checker, type ComposedResult } from '../checkers/index.js';
import { casRegister } from '../checkers/linearizability/index.js';
import { InputError } from '../history/input-error.js';
import type { History, Operation } from '../history/types.js';

/** What a workload's checker needs to know of the test (test.json). */
export interface TestSpec {
  workload: string;
  /** Workload-specific settings, e.g. the bank's starting total. */
  workloadOptions?: Record<string, unknown>;
  /** Linearizability search budget in seconds. */
  checkerBudget?: number;
}

type Compose = (test: TestSpec) => Record<string, Checker>;

const withStatsAndPerf = (own: Record<string, Checker>): Record<string, Checker> => ({ ...own, stats: statsChecker, perf: perfChecker });

export const workloadCheckers: Record<string, Compose> = {
  // Independent cas-registers, one per key: linearizability per key.
  register: (test) => withStatsAndPerf({ linearizable: linearizable(casRegister, { budgetMs: (test.checkerBudget ?? 60) * 1000 }) }),
  set: () => withStatsAndPerf({ set: setChecker }),
  append: () => withStatsAndPerf({ append: appendChecker }),
  bank: (test) => {
    const total = test.workloadOptions?.total;
    if (typeof total !== 'number') throw new InputError('the bank workload needs workloadOptions.total (the starting sum of all balances) in test.json');
    return withStatsAndPerf({ bank: bankChecker({ total, negativeAllowed: test.workloadOptions?.negativeAllowed === true }) });
  },
};

export function checkWorkload(test: TestSpec, history: History, operations: Operation[]): ComposedResult {
  const checkers = workloadCheckers[test.workload];
  if (!checkers) {
    throw new InputError(`unknown workload ${JSON.stringify(test.workload)}`, {}, `use one of: ${Object.keys(workloadCheckers).join(', ')}`);
  }
  return compose(checkers(test))(history, operations);
}
