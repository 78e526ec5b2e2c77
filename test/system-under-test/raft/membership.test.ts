import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasQuorum, quorumIndex, voteOutcome } from '../../../system-under-test/raft/membership.js';
import type { Membership } from '../../../system-under-test/raft/types.js';

const simple = (voters: string[]): Membership => ({ voters, outgoing: [], learners: [] });
const joint = (voters: string[], outgoing: string[]): Membership => ({ voters, outgoing, learners: [] });

describe('quorums', () => {
  it('a simple configuration needs a strict majority; learners never count', () => {
    const m: Membership = { voters: ['a', 'b', 'c', 'd'], outgoing: [], learners: ['x', 'y', 'z'] };
    expect(hasQuorum(m, (id) => ['a', 'b'].includes(id))).toBe(false);
    expect(hasQuorum(m, (id) => ['a', 'b', 'x', 'y', 'z'].includes(id))).toBe(false);
    expect(hasQuorum(m, (id) => ['a', 'b', 'c'].includes(id))).toBe(true);
  });

  it('a joint configuration needs a majority of both sets', () => {
    const m = joint(['c', 'd', 'e'], ['a', 'b', 'c']);
    expect(hasQuorum(m, (id) => ['a', 'b', 'c'].includes(id))).toBe(false); // only 1 of C_new
    expect(hasQuorum(m, (id) => ['c', 'd', 'e'].includes(id))).toBe(false); // only 1 of C_old
    expect(hasQuorum(m, (id) => ['b', 'c', 'd'].includes(id))).toBe(true);
  });

  it('an empty configuration decides nothing', () => {
    expect(hasQuorum(simple([]), () => true)).toBe(false);
    expect(voteOutcome(simple([]), new Map())).toBe('lost');
    expect(quorumIndex(simple([]), () => 10)).toBe(0);
  });

  it('elections are won, lost or pending', () => {
    const m = joint(['c', 'd', 'e'], ['a', 'b', 'c']);
    expect(
      voteOutcome(
        m,
        new Map([
          ['c', true],
          ['d', true],
        ]),
      ),
    ).toBe('pending');
    expect(
      voteOutcome(
        m,
        new Map([
          ['c', true],
          ['d', true],
          ['a', true],
        ]),
      ),
    ).toBe('won');
    expect(
      voteOutcome(
        m,
        new Map([
          ['d', false],
          ['e', false],
        ]),
      ),
    ).toBe('lost');
    expect(
      voteOutcome(
        simple(['a', 'b', 'c', 'd']),
        new Map([
          ['a', false],
          ['b', false],
        ]),
      ),
    ).toBe('lost');
    expect(voteOutcome(simple(['a', 'b', 'c', 'd']), new Map([['a', false]]))).toBe('pending');
  });

  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  const config = fc
    .tuple(fc.subarray(ids, { minLength: 1 }), fc.boolean(), fc.subarray(ids, { minLength: 1 }))
    .map(([v, isJoint, o]) => (isJoint ? joint(v, o) : simple(v)));

  it('property: quorumIndex is the largest index a quorum holds', () => {
    fc.assert(
      fc.property(config, fc.array(fc.nat(20), { minLength: ids.length, maxLength: ids.length }), (m, matches) => {
        const match = (id: string) => matches[ids.indexOf(id)];
        const q = quorumIndex(m, match);
        expect(hasQuorum(m, (id) => match(id) >= q)).toBe(true);
        expect(hasQuorum(m, (id) => match(id) >= q + 1)).toBe(false);
      }),
    );
  });

  it('property: a won election has a quorum of yes votes, a lost one can never get one', () => {
    fc.assert(
      fc.property(config, fc.array(fc.constantFrom(true, false, undefined), { minLength: ids.length, maxLength: ids.length }), (m, answers) => {
        const map = new Map<string, boolean>();
        ids.forEach((id, i) => answers[i] !== undefined && map.set(id, answers[i]!));
        const outcome = voteOutcome(m, map);
        const yes = hasQuorum(m, (id) => map.get(id) === true);
        const couldStill = hasQuorum(m, (id) => map.get(id) !== false);
        expect(outcome === 'won').toBe(yes);
        expect(outcome === 'lost').toBe(!couldStill);
      }),
    );
  });
});
