import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CmStateMachine, type CmCommand, type CmProposal } from '../../../system-under-test/cm/state.js';
import type { Entry, Snapshot } from '../../../system-under-test/raft/types.js';

const EMPTY: Snapshot = { index: 0, term: 0, config: { voters: ['a', 'b', 'c'], outgoing: [], learners: [] }, data: '' };

/** Feed commands to a state machine as consecutive committed entries. */
function feeder(sm: CmStateMachine) {
  let n = 0;
  return (command: CmCommand) => {
    const p: CmProposal = { id: `p${n++}`, command };
    const e: Entry = { index: sm.applied() + 1, term: 1, kind: 'command', data: JSON.stringify(p) };
    const r = sm.applyEntry(e);
    if (r === null) throw new Error('command entry without a result');
    expect(r.id).toBe(p.id);
    return r.result;
  };
}

function bootstrapped(bugs: ReadonlySet<string> = new Set()) {
  const sm = CmStateMachine.fromSnapshot(EMPTY, { bugs });
  const apply = feeder(sm);
  for (const d of ['d1', 'd2', 'd3', 'd4']) expect(apply({ op: 'registerServer', id: d, address: `${d}:7000` })).toEqual({ ok: true });
  expect(apply({ op: 'createGroups', groups: { g1: { primary: 'd1', secondaries: ['d2', 'd3'] }, g2: { primary: 'd2', secondaries: ['d3'] } } })).toEqual({
    ok: true,
  });
  return { sm, apply };
}

describe('CM state machine', () => {
  it('registers servers and creates groups at version 1', () => {
    const { sm } = bootstrapped();
    expect(Object.keys(sm.servers())).toEqual(['d1', 'd2', 'd3', 'd4']);
    expect(sm.group('g1')).toEqual({ version: 1, primary: 'd1', secondaries: ['d2', 'd3'] });
    expect(sm.members()).toEqual(EMPTY.config);
  });

  it('reconfigure is a compare-and-set on the version: of two requests for the same version exactly one wins', () => {
    const { sm, apply } = bootstrapped();
    const a = apply({ op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd2', secondaries: ['d3'] } });
    const b = apply({ op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd4', secondaries: [] } });
    expect(a).toEqual({ ok: true, group: { version: 2, primary: 'd2', secondaries: ['d3'] } });
    expect(b).toEqual({ ok: false, error: 'version-mismatch', group: { version: 2, primary: 'd2', secondaries: ['d3'] } });
    expect(sm.group('g1')?.version).toBe(2);
  });

  it('with the cm-no-version-check bug both requests succeed', () => {
    const { sm, apply } = bootstrapped(new Set(['cm-no-version-check']));
    expect(apply({ op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd2', secondaries: [] } }).ok).toBe(true);
    expect(apply({ op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd3', secondaries: [] } }).ok).toBe(true);
    expect(sm.group('g1')?.version).toBe(3);
  });

  it('rejects unknown groups, unknown servers, bad layouts and a second bootstrap', () => {
    const { sm, apply } = bootstrapped();
    expect(apply({ op: 'reconfigure', group: 'nope', expectedVersion: 1, config: { primary: 'd1', secondaries: [] } })).toEqual({
      ok: false,
      error: 'no-such-group',
    });
    expect(apply({ op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd9', secondaries: [] } })).toMatchObject({
      ok: false,
      error: 'unknown-server',
    });
    expect(apply({ op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd1', secondaries: ['d1'] } })).toMatchObject({
      ok: false,
      error: 'bad-config',
    });
    expect(apply({ op: 'createGroups', groups: { g3: { primary: 'd1', secondaries: [] }, g1: { primary: 'd1', secondaries: [] } } })).toMatchObject({
      ok: false,
      error: 'group-exists',
    });
    expect(sm.group('g3')).toBeUndefined(); // all or nothing
    expect(sm.group('g1')?.version).toBe(1);
  });

  it('applies entries strictly in order, and tracks the CM membership from config entries', () => {
    const { sm } = bootstrapped();
    const next = sm.applied() + 1;
    expect(() => sm.applyEntry({ index: next + 1, term: 1, kind: 'noop' })).toThrow(/must be applied in order/);
    expect(sm.applyEntry({ index: next, term: 1, kind: 'noop' })).toBeNull();
    const config = { voters: ['a', 'b', 'c', 'd'], outgoing: ['a', 'b', 'c'], learners: [] };
    expect(sm.applyEntry({ index: next + 1, term: 1, kind: 'config', config })).toBeNull();
    expect(sm.members()).toEqual(config);
    expect(sm.applied()).toBe(next + 1);
  });

  const command: fc.Arbitrary<CmCommand> = fc.oneof(
    fc.record({ op: fc.constant('registerServer' as const), id: fc.constantFrom('d1', 'd2', 'd5'), address: fc.constantFrom('x:1', 'y:2') }),
    fc.record({
      op: fc.constant('reconfigure' as const),
      group: fc.constantFrom('g1', 'g2', 'g9'),
      expectedVersion: fc.integer({ min: 0, max: 6 }),
      config: fc.record({ primary: fc.constantFrom('d1', 'd2', 'd3', 'd5'), secondaries: fc.subarray(['d1', 'd2', 'd3', 'd4']) }),
    }),
    fc.record({ op: fc.constant('registerMember' as const), id: fc.constantFrom('n4', 'n5'), address: fc.constantFrom('h:1', 'h:2') }),
  );

  it('property: a version is won at most once, and each win moves the version by exactly one', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (cmds) => {
        const { sm, apply } = bootstrapped();
        const won = new Map<string, Set<number>>();
        for (const c of cmds) {
          const before = c.op === 'reconfigure' ? sm.group(c.group)?.version : undefined;
          const r = apply(c);
          if (c.op !== 'reconfigure') continue;
          if (r.ok) {
            expect(before).toBe(c.expectedVersion);
            expect(r.group?.version).toBe(c.expectedVersion + 1);
            const s = won.get(c.group) ?? new Set<number>();
            expect(s.has(c.expectedVersion)).toBe(false);
            s.add(c.expectedVersion);
            won.set(c.group, s);
          } else {
            expect(sm.group(c.group)?.version).toBe(before);
          }
        }
        for (const g of ['g1', 'g2']) expect(sm.group(g)?.version).toBe(1 + (won.get(g)?.size ?? 0));
      }),
      { numRuns: 200 },
    );
  });

  it('property: a snapshot taken anywhere and restored yields the same state as applying everything', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), fc.nat(), (cmds, cut) => {
        const whole = bootstrapped();
        for (const c of cmds) whole.apply(c);
        const part = bootstrapped();
        const k = cmds.length === 0 ? 0 : cut % (cmds.length + 1);
        for (const c of cmds.slice(0, k)) part.apply(c);
        const snap: Snapshot = { index: part.sm.applied(), term: 1, config: EMPTY.config, data: part.sm.serialize() };
        const restored = CmStateMachine.fromSnapshot(snap);
        const apply = feeder(restored);
        for (const c of cmds.slice(k)) apply(c);
        expect(restored.serialize()).toBe(whole.sm.serialize());
        expect(JSON.parse(restored.serialize())).toEqual(JSON.parse(whole.sm.serialize()));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a snapshot whose data does not match its index', () => {
    const { sm } = bootstrapped();
    expect(() => CmStateMachine.fromSnapshot({ ...EMPTY, index: sm.applied() + 3, data: sm.serialize() })).toThrow(/snapshot data is at index/);
  });
});
