// The test configuration of a --provider sim run for the sim tests: the
// register workload, kills, pauses, partitions and clock faults overlapping,
// 10 s; each test overrides what it is about.

import type { TestConfig } from '../../harness/run/run-test.js';

export function simTestConfig(store: string, o: Partial<TestConfig>): TestConfig {
  return {
    name: 'sim',
    system: 'reference',
    systemOptions: {},
    workload: 'register',
    provider: 'sim',
    nemesis: ['kill', 'pause', 'partition', 'clock'],
    partitions: ['halves', 'one', 'follower', 'primary', 'primary-alone', 'ring', 'bridge'],
    packet: [],
    targets: ['random', 'primary', 'leader'],
    nodes: 3,
    concurrency: 10,
    rate: 100,
    timeLimit: 10,
    nemesisInterval: 2,
    nemesisOverlap: true,
    quiet: 2,
    opTimeoutMs: 3000,
    seed: 1,
    bugs: [],
    keys: 4,
    opsPerKey: 100,
    readFraction: 1 / 3,
    store,
    ...o,
  };
}
