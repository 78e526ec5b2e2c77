// Coalescing prepares (runtime/coalesce.ts): a secondary that receives the
// merged prepare ends where it would after the originals, and nothing but
// prepares changes.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacificaReplica } from '../../../system-under-test/pacifica/replica.js';
import { EMPTY_DISK, type Envelope, type GroupConfig, type Now, type PMessage } from '../../../system-under-test/pacifica/types.js';
import { coalescePrepares } from '../../../system-under-test/runtime/coalesce.js';

const CONFIG: GroupConfig = { version: 1, primary: 'a', secondaries: ['b', 'c'] };
const at = (t: number): Now => ({ mono: t, wall: t });
const replica = (id: string) =>
  new PacificaReplica({
    id,
    group: 'g',
    disk: EMPTY_DISK,
    initialConfig: CONFIG,
    now: at(0),
    lease: 10,
    grace: 15,
    beaconInterval: 3,
    cmRetry: 15,
    checkpointEvery: 1000,
  });

/** Step `envs` addressed to `r` and return its state and its last acknowledgement. */
function feed(r: PacificaReplica, envs: readonly Envelope[]) {
  let ack: PMessage | undefined;
  for (const e of envs) {
    if (e.to !== r.id) continue;
    r.step(e, at(1));
    for (let out = r.takeOutput(); out !== null; out = r.takeOutput()) {
      for (const m of [...out.early, ...out.messages]) if (m.msg.kind === 'ack') ack = m.msg;
      r.persisted(out, at(1));
    }
  }
  return { commit: r.commitSn(), logEnd: r.logEnd(), ids: Array.from({ length: r.logEnd() }, (_, i) => r.entryAt(i + 1)?.id), ack };
}

describe('coalescePrepares', () => {
  it('a secondary ends in the same state, with one acknowledgement for the lot', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 5 }), (requests, acksBetween) => {
        const a = replica('a');
        a.takeOutput();
        const early: Envelope[] = [];
        for (let i = 0; i < requests; i++) {
          a.step(
            { from: 'client', to: 'a', msg: { kind: 'request', group: 'g', id: `q${i}`, version: 1, op: { f: 'write', key: `k${i % 3}`, value: i } } },
            at(1),
          );
          if (i === acksBetween) {
            // Some other message to one peer in the middle: prepares may not merge across it.
            early.push({ from: 'a', to: 'b', msg: { kind: 'join', group: 'g', version: 1 } });
          }
          for (let out = a.takeOutput(); out !== null; out = a.takeOutput()) early.push(...out.early);
        }
        const merged = coalescePrepares(early);
        expect(merged.length).toBeLessThanOrEqual(early.length);
        expect(merged.filter((e) => e.msg.kind !== 'prepare')).toEqual(early.filter((e) => e.msg.kind !== 'prepare'));
        for (const peer of ['b', 'c']) {
          const one = feed(replica(peer), early);
          const lot = feed(replica(peer), merged);
          expect(lot.logEnd).toBe(requests);
          expect({ ...lot, ack: undefined }).toEqual({ ...one, ack: undefined });
          expect(lot.ack).toMatchObject({ kind: 'ack', ok: true, match: requests });
          const prepares = merged.filter((e) => e.to === peer && e.msg.kind === 'prepare');
          expect(prepares.length).toBeLessThanOrEqual(peer === 'b' && acksBetween < requests ? 2 : 1);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('does not merge across configurations, gaps or checkpoints', () => {
    const p = (prevSn: number, n: number, version = 1, checkpoint: boolean = false): Envelope => ({
      from: 'a',
      to: 'b',
      msg: {
        kind: 'prepare',
        group: 'g',
        config: { ...CONFIG, version },
        prevSn,
        prevVersion: 1,
        commit: 0,
        sentAt: prevSn,
        entries: Array.from({ length: n }, (_, i) => ({
          sn: prevSn + 1 + i,
          version,
          id: `e${prevSn + 1 + i}`,
          op: { f: 'write' as const, key: 'k', value: 1 },
        })),
        checkpoint: checkpoint ? { sn: prevSn, version: 1, kv: {} } : null,
      },
    });
    expect(coalescePrepares([p(0, 2), p(2, 1)])).toHaveLength(1);
    expect(coalescePrepares([p(0, 2), p(3, 1)])).toHaveLength(2); // a gap
    expect(coalescePrepares([p(0, 2), p(2, 1, 2)])).toHaveLength(2); // another version
    expect(coalescePrepares([p(0, 2), p(2, 1, 1, true)])).toHaveLength(2); // a checkpoint
    const m = coalescePrepares([p(0, 2), p(2, 1), p(3, 2)]);
    expect(m).toHaveLength(1);
    expect(m[0].msg).toMatchObject({ prevSn: 0, sentAt: 3 });
    expect((m[0].msg as Extract<PMessage, { kind: 'prepare' }>).entries.map((e) => e.sn)).toEqual([1, 2, 3, 4, 5]);
  });
});
