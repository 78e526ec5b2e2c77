// The pure part of the membership faults: which compare-and-sets take a data
// server out of every group, and when a CM membership change counts as done.
// Also the schedule's member ops, replayed by seed.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nemesis, simulate, timeLimit } from '../../../harness/core/generator/index.js';
import { cmAddDone, cmRemovalDone, dataRemovalPlan, fullMembership, groupsHolding, MEMBER_TARGETS } from '../../../adapters/reference/membership-plan.js';
import { faultSchedule } from '../../../nemesis/schedule.js';
import type { GroupConfig } from '../../../system-under-test/cm/state.js';
import type { Membership } from '../../../system-under-test/raft/types.js';
import type { StatusResponse } from '../../../system-under-test/runtime/client.js';

const SERVERS = ['d1', 'd2', 'd3', 'd4', 'd5'];

/** Groups of 1..4 distinct replicas of SERVERS, each at some version. */
const groupsArb = fc
  .dictionary(
    fc.constantFrom('g0', 'g1', 'g2', 'g3'),
    fc.record({ version: fc.integer({ min: 1, max: 50 }), replicas: fc.shuffledSubarray(SERVERS, { minLength: 1, maxLength: 4 }) }),
    { minKeys: 1 },
  )
  .map((gs) =>
    Object.fromEntries(
      Object.entries(gs).map(([g, { version, replicas }]) => [g, { version, primary: replicas[0], secondaries: replicas.slice(1) } as GroupConfig]),
    ),
  );

describe('dataRemovalPlan', () => {
  it('takes the server out of every group it can, one compare-and-set per group against its current version', () => {
    fc.assert(
      fc.property(groupsArb, fc.constantFrom(...SERVERS), fc.subarray(SERVERS), (groups, server, down) => {
        const { steps, impossible } = dataRemovalPlan(groups, server, (s) => !down.includes(s));
        // Every holding group is either planned or impossible, and nothing else is touched.
        expect([...steps.map((s) => s.group), ...impossible].sort()).toEqual(groupsHolding(groups, server));
        for (const g of impossible) expect(groups[g]).toMatchObject({ primary: server, secondaries: [] });
        for (const { group, expectedVersion, config } of steps) {
          const before = groups[group];
          expect(expectedVersion).toBe(before.version);
          const after = [config.primary, ...config.secondaries];
          // The same replicas less this one, none twice, a primary always.
          expect(new Set(after).size).toBe(after.length);
          expect(after.sort()).toEqual([before.primary, ...before.secondaries].filter((s) => s !== server).sort());
          expect(config.primary).not.toBe('');
          // A primary that stays keeps its role; one that goes hands it to its first running secondary (or its first).
          const running = (s: string) => !down.includes(s);
          const rest = before.secondaries.filter((s) => s !== server);
          expect(config.primary).toBe(before.primary === server ? (rest.find(running) ?? rest[0]) : before.primary);
        }
        // Applied, the plan leaves the server nowhere but in the impossible groups.
        const applied: Record<string, GroupConfig> = { ...groups };
        for (const s of steps) applied[s.group] = { version: s.expectedVersion + 1, ...s.config };
        expect(groupsHolding(applied, server)).toEqual(impossible);
        expect(dataRemovalPlan(applied, server).steps).toEqual([]);
      }),
    );
  });

  it('on the bootstrap layout of 3 servers, replication 3: every group loses d1, and g0 gets d2 as primary', () => {
    const groups: Record<string, GroupConfig> = {
      g0: { version: 1, primary: 'd1', secondaries: ['d2', 'd3'] },
      g1: { version: 4, primary: 'd2', secondaries: ['d3', 'd1'] },
      g2: { version: 2, primary: 'd3', secondaries: ['d1', 'd2'] },
    };
    expect(dataRemovalPlan(groups, 'd1')).toEqual({
      steps: [
        { group: 'g0', expectedVersion: 1, config: { primary: 'd2', secondaries: ['d3'] } },
        { group: 'g1', expectedVersion: 4, config: { primary: 'd2', secondaries: ['d3'] } },
        { group: 'g2', expectedVersion: 2, config: { primary: 'd3', secondaries: ['d2'] } },
      ],
      impossible: [],
    });
    // With d2 stopped, g0's primary goes to d3, which can serve at once.
    expect(dataRemovalPlan(groups, 'd1', (s) => s !== 'd2').steps[0]).toEqual({
      group: 'g0',
      expectedVersion: 1,
      config: { primary: 'd3', secondaries: ['d2'] },
    });
  });
});

const cfg = (voters: string[], outgoing: string[] = [], learners: string[] = []): Membership => ({ voters, outgoing, learners });
const status = (id: string, role: StatusResponse['role'], term: number, config: Membership): StatusResponse => ({
  ok: true,
  id,
  role,
  term,
  leader: role === 'leader' ? id : null,
  leaderAddress: null,
  commit: 10,
  applied: 10,
  lastIndex: 10,
  config,
});

describe('CM membership changes: when they are done', () => {
  it('a removal is done once the leader and every remaining voter hold a plain configuration without the node', () => {
    const without = cfg(['n1', 'n2']);
    const joint = cfg(['n1', 'n2'], ['n1', 'n2', 'n3']);
    expect(
      cmRemovalDone({ n1: status('n1', 'leader', 3, without), n2: status('n2', 'follower', 3, without), n3: status('n3', 'candidate', 9, joint) }, 'n3'),
    ).toBe(true);
    // A remaining voter still in the joint configuration: its vote could still elect a leader that counts n3.
    expect(cmRemovalDone({ n1: status('n1', 'leader', 3, without), n2: status('n2', 'follower', 3, joint), n3: null }, 'n3')).toBe(false);
    // A voter that does not answer cannot be known to have moved on.
    expect(cmRemovalDone({ n1: status('n1', 'leader', 3, without), n2: null, n3: null }, 'n3')).toBe(false);
    // No leader, or the leader still names it (as a learner, too).
    expect(cmRemovalDone({ n1: status('n1', 'follower', 3, without), n2: status('n2', 'follower', 3, without), n3: null }, 'n3')).toBe(false);
    expect(cmRemovalDone({ n1: status('n1', 'leader', 3, cfg(['n1', 'n2'], [], ['n3'])), n2: status('n2', 'follower', 3, without), n3: null }, 'n3')).toBe(
      false,
    );
    // A stale leader of an older term does not decide.
    expect(cmRemovalDone({ n1: status('n1', 'leader', 3, without), n2: status('n2', 'leader', 4, cfg(['n1', 'n2', 'n3'])), n3: null }, 'n2')).toBe(false);
  });

  it('an addition is done once the leader has the node as a voter outside a joint configuration and the node knows it', () => {
    const all = cfg(['n1', 'n2', 'n3']);
    expect(cmAddDone({ n1: status('n1', 'leader', 3, all), n2: status('n2', 'follower', 3, all), n3: status('n3', 'follower', 3, all) }, 'n3')).toBe(true);
    expect(cmAddDone({ n1: status('n1', 'leader', 3, cfg(['n1', 'n2', 'n3'], ['n1', 'n2'])), n2: null, n3: status('n3', 'follower', 3, all) }, 'n3')).toBe(
      false,
    );
    expect(
      cmAddDone(
        { n1: status('n1', 'leader', 3, cfg(['n1', 'n2'], [], ['n3'])), n2: null, n3: status('n3', 'follower', 3, cfg(['n1', 'n2'], [], ['n3'])) },
        'n3',
      ),
    ).toBe(false);
    expect(cmAddDone({ n1: status('n1', 'leader', 3, all), n2: null, n3: status('n3', 'follower', 0, cfg([])) }, 'n3')).toBe(false);
    expect(cmAddDone({ n1: status('n1', 'leader', 3, all), n2: null, n3: null }, 'n3')).toBe(false);
  });

  it('full membership: every group with its replicas, and the CM with exactly its members', () => {
    const layout = { groups: 2, replication: 3 };
    const full: Record<string, GroupConfig> = {
      g0: { version: 3, primary: 'd1', secondaries: ['d2', 'd3'] },
      g1: { version: 7, primary: 'd2', secondaries: ['d3', 'd1'] },
    };
    const cm = { n1: status('n1', 'leader', 2, cfg(['n1', 'n2', 'n3'])), n2: null, n3: null };
    expect(fullMembership(full, cm, layout, ['n1', 'n2', 'n3'])).toBe(true);
    expect(fullMembership({ ...full, g1: { version: 8, primary: 'd2', secondaries: ['d3'] } }, cm, layout, ['n1', 'n2', 'n3'])).toBe(false);
    expect(fullMembership({ g0: full.g0 }, cm, layout, ['n1', 'n2', 'n3'])).toBe(false);
    expect(fullMembership(null, cm, layout, ['n1', 'n2', 'n3'])).toBe(false);
    expect(fullMembership(full, { ...cm, n1: status('n1', 'leader', 2, cfg(['n1', 'n2'])) }, layout, ['n1', 'n2', 'n3'])).toBe(false);
    expect(fullMembership(full, { ...cm, n1: status('n1', 'leader', 2, cfg(['n1', 'n2', 'n3'], ['n1', 'n2'])) }, layout, ['n1', 'n2', 'n3'])).toBe(false);
  });
});

describe('the member fault in the schedule', () => {
  it('alternates member-remove and member-add of the same target, every target drawn, replayed by seed', () => {
    const schedule = () =>
      faultSchedule({ kinds: ['member'], nodes: ['n1', 'n2', 'n3', 'd1', 'd2', 'd3'], memberTargets: MEMBER_TARGETS, quietMs: 100, holdMs: 100 });
    const ops = (seed: number) =>
      simulate(timeLimit(20e9, nemesis(schedule())), { concurrency: 1, seed, maxInvocations: 2000 })
        .history.filter((op) => op.process === 'nemesis' && op.type === 'invoke')
        .map(({ f, value }) => ({ f, value }));
    const a = ops(3);
    expect(ops(3)).toEqual(a);
    expect(a.length).toBeGreaterThanOrEqual(20);
    for (let i = 0; i + 1 < a.length; i += 2) {
      expect(a[i].f).toBe('member-remove');
      expect(a[i + 1]).toEqual({ f: 'member-add', value: a[i].value });
    }
    expect(new Set(a.filter((op) => op.f === 'member-remove').map((op) => op.value))).toEqual(new Set(['data', 'data-secondary', 'cm']));
  });
});
