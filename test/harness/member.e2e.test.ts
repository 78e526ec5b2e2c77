// `undertow test --nemesis member` on the local provider: data servers and
// CM members really leave the membership (the CM's configurations say so)
// and come back, the history stays linearizable, and the cluster ends fully
// replicated: every group with all its replicas, the CM with all its members.

import { describe, expect, it } from 'vitest';
import { expectCompleteRun, undertowTest } from './cli-run.js';
import { expectFullyReplicatedInLogs, expectJoinedOnEmptyDisk, expectMembershipChanges } from './member-checks.js';

const shape = { groups: 3, replication: 3, cmNodes: ['n1', 'n2', 'n3'] };

describe('undertow test --nemesis member on the local provider', () => {
  it('register under membership changes is valid, every change happened, and the cluster ends fully replicated', async () => {
    const r = await undertowTest([
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
    const { results, nemesis, history } = expectCompleteRun(r, 'register');
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(r.code).toBe(0);
    expect(history.filter((op: { type: string }) => op.type === 'ok').length).toBeGreaterThan(200);
    const done = expectMembershipChanges(nemesis, shape);
    expect(done.removed.data + done.removed['data-secondary'] + done.removed.cm, JSON.stringify(done)).toBeGreaterThanOrEqual(2);
    expect(done.added.data + done.added.cm).toBeGreaterThanOrEqual(1);
    // Every CM member brought back came back on an empty disk with --join.
    expect(expectJoinedOnEmptyDisk(r.run, nemesis)).toBeGreaterThanOrEqual(done.added.cm);
    const newest = expectFullyReplicatedInLogs(r.run, shape);
    // The layout moved on from the bootstrap's version 1 in some group: the CM really was reconfigured.
    if (done.removed.data > 0) expect(Math.max(...Object.values(newest).map((g) => g.version))).toBeGreaterThan(1);
  }, 150_000);
});
