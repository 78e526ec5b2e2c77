// Undertow as a library: define and run tests in code (a test is a value),
// with the bundled systems or an adapter of your own. docs/adapters.md shows
// a whole adapter and a vitest test that runs it.
//
//   import { runTest } from 'undertow';
//   const { verdict, runDir } = await runTest({ workload: 'register', nemesis: ['kill', 'pause'], timeLimit: 30 });

// The protocols a system, a provider, a client and a workload implement, and the generator library.
export * from './harness/core/index.js';
// Running a test.
export { runTest, TEST_DEFAULTS, type TestDefinition, type TestResult } from './harness/run/api.js';
export type { TestConfig, RunOutcome } from './harness/run/run-test.js';
export { analyzeRun, checkWorkload, type RunResults } from './harness/run/analysis.js';
// The systems: the registry, the reference system, etcd.
export { SYSTEMS, systemNamed } from './adapters/index.js';
export { referenceAdapter } from './adapters/reference/index.js';
export { etcdAdapter } from './adapters/etcd/index.js';
// The workloads and their checkers.
export { WORKLOADS, workloadNamed } from './workloads/index.js';
export * from './checkers/index.js';
// Fault kinds, their schedule, and the grudges partitions are made of.
export { FAULT_KINDS, PARTITIONS, TARGETS, faultsNemesis, type FaultKind, type PartitionShape, type Target } from './nemesis/faults.js';
export { faultSchedule, HEAL_ALL } from './nemesis/schedule.js';
export * from './nemesis/grudge.js';
// Providers.
export { localProvider } from './harness/providers/local.js';
// Histories.
export { InputError } from './history/input-error.js';
