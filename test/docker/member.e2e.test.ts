// `undertow test --provider docker --nemesis member`: data servers and CM
// members leave the membership and come back with every node in its own
// container (a CM member comes back in a new container on an empty data
// folder, started with --join), the history stays linearizable, the cluster
// ends fully replicated, and nothing of the run is left. Needs a Docker
// engine (the test setup starts one as root); skips only when none can be
// had, and says why.

import { describe, expect, it } from 'vitest';
import { expectCompleteRun, undertowTest } from '../harness/cli-run.js';
import { expectFullyReplicatedInLogs, expectJoinedOnEmptyDisk, expectMembershipChanges } from '../harness/member-checks.js';
import { dockerLeftovers, testEngine } from './engine.js';

const engine = await testEngine();
const skip = engine.missing !== null;
const shape = { groups: 3, replication: 3, cmNodes: ['n1', 'n2', 'n3'] };

describe.skipIf(skip)(`undertow test --provider docker --nemesis member${skip ? ` (skipped: ${engine.missing})` : ''}`, () => {
  it('register under membership changes is valid, every change happened, and the cluster ends fully replicated', async () => {
    const r = await undertowTest([
      '--provider',
      'docker',
      '--workload',
      'register',
      '--nemesis',
      'member',
      '--time-limit',
      '20',
      '--nemesis-interval',
      '2',
      '--quiet',
      '4',
      '--rate',
      '100',
      '--seed',
      '5',
    ]);
    const { test, results, nemesis } = expectCompleteRun(r, 'register');
    expect(test.provider).toBe('docker');
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(r.code).toBe(0);
    const done = expectMembershipChanges(nemesis, shape);
    expect(done.removed.data + done.removed['data-secondary'] + done.removed.cm, JSON.stringify(done)).toBeGreaterThanOrEqual(2);
    expect(done.added.data + done.added.cm).toBeGreaterThanOrEqual(1);
    // Every CM member brought back came back on an empty disk with --join.
    expect(expectJoinedOnEmptyDisk(r.run, nemesis)).toBeGreaterThanOrEqual(done.added.cm);
    expectFullyReplicatedInLogs(r.run, shape);
    expect(dockerLeftovers(r.run)).toEqual([]);
  }, 180_000);
});
