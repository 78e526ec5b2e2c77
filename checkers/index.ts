// The checkers: each reads a history and says valid, invalid or unknown, with details.
export { compose, worst, validOf } from './result.js';
export type { Checker, CheckerResult, ComposedResult, Verdict } from './result.js';
export { setChecker, type SetResult } from './set.js';
export { appendChecker, type AppendAnomaly, type AppendResult } from './append.js';
export { bankChecker, type BankAnomaly, type BankOptions, type BankResult } from './bank.js';
export { statsChecker, perfChecker, type Counts, type PerfResult, type StatsResult } from './stats.js';
export { latencies, quantilesOf, type Latencies } from './latency.js';
export { linearizable, checkLinearizable } from './linearizability/index.js';
