// What a fault did to a bench's clients: availability and the time until the
// system served again, exact on hand-built op timelines and within bounds on
// generated ones; and the faults read back from a nemesis history.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeFault, faultEffect, KEY_BUCKETS, keyBucket, type TimelineOp } from '../../harness/bench/availability.js';
import { faultRecords, faultSpans } from '../../harness/bench/faults.js';
import { NEMESIS, type Op } from '../../history/types.js';

const op = (bucket: number, sent: number, done: number, type: TimelineOp['type'] = 'ok', error?: string): TimelineOp => ({
  sent,
  done,
  type,
  bucket,
  ...(error !== undefined ? { error } : {}),
});

describe('faultEffect on hand-built timelines', () => {
  it('a fault that disturbed nothing: served again at the latest bucket’s first ok op sent after the start, availability 1', () => {
    const ops = [op(0, 900, 950), op(0, 1000, 1010), op(1, 1050, 1060), op(0, 1100, 1104), op(1, 2000, 2003), op(0, 9000, 9001)];
    const e = faultEffect(ops, { start: 1000, end: 3000, horizon: 10_000 });
    expect(e.servedAgainAt).toBe(1060);
    expect(e.recoveryS).toBeCloseTo(0.06, 10);
    // Counted until the fault ended (3000 > 1060): the ops sent at 1000, 1050, 1100 and 2000.
    expect([e.ok, e.fail, e.info]).toEqual([4, 0, 0]);
    expect(e.availability).toBe(1);
    expect(e.longestOkMs).toBe(10);
    expect(e.errors).toEqual({});
  });

  it('an outage: each bucket served again at its first ok op sent after its last failure; counted until the later of the end and that', () => {
    const ops = [
      op(0, 1000, 1001, 'fail', 'refused'),
      op(0, 1100, 1101, 'fail', 'refused'),
      op(0, 1200, 4200, 'info', 'timed-out'), // sent before the last ok: counts from when it was sent, not when it timed out
      op(0, 1300, 1310),
      op(1, 1000, 1005),
      op(1, 1500, 1501, 'fail', 'refused'),
      op(1, 2000, 2500),
      op(1, 2600, 2601), // after U = 2500: not counted
      op(0, 500, 600, 'fail', 'before the fault'), // before the start: not looked at
    ];
    const e = faultEffect(ops, { start: 1000, end: 1800, horizon: 10_000 });
    expect(e.servedAgainAt).toBe(2500);
    expect(e.recoveryS).toBeCloseTo(1.5, 10);
    expect([e.ok, e.fail, e.info]).toEqual([3, 3, 1]);
    expect(e.availability).toBeCloseTo(3 / 7, 10);
    expect(e.longestOkMs).toBe(500);
    expect(e.errors).toEqual({ 'fail: refused': 3, 'info: timed-out': 1 });
  });

  it('a bucket that never succeeds again before the horizon: not recovered, availability over the whole horizon', () => {
    const ops = [op(0, 1000, 1010), op(0, 3000, 3010), op(1, 1000, 1001, 'fail', 'x'), op(1, 4000, 4001, 'fail', 'x'), op(1, 6000, 6001)];
    const e = faultEffect(ops, { start: 1000, end: 2000, horizon: 5000 });
    expect(e.servedAgainAt).toBeNull();
    expect(e.recoveryS).toBeNull();
    expect([e.ok, e.fail, e.info]).toEqual([2, 2, 0]);
    expect(e.availability).toBe(0.5);
  });

  it('an op in flight when the horizon came (the next fault) that failed after it is not held against this fault', () => {
    const ops = [op(0, 1000, 1001, 'fail', 'x'), op(0, 2000, 2010), op(0, 4900, 7900, 'info', 'timed-out'), op(1, 1000, 1020)];
    const e = faultEffect(ops, { start: 1000, end: 1500, horizon: 5000 });
    expect(e.servedAgainAt).toBe(2010);
    // The same op failing before the horizon is this fault's: no ok op after it, so not served again.
    expect(faultEffect([...ops, op(0, 4800, 4950, 'fail', 'x')], { start: 1000, end: 1500, horizon: 5000 }).servedAgainAt).toBeNull();
  });

  it('no op sent during the fault: nothing to say', () => {
    const e = faultEffect([op(0, 100, 200), op(0, 6000, 6001)], { start: 1000, end: 2000, horizon: 5000 });
    expect(e).toMatchObject({ servedAgainAt: null, recoveryS: null, availability: null, longestOkMs: null, ok: 0, fail: 0, info: 0 });
  });

  it('keys fall in KEY_BUCKETS buckets, the same key always in the same one; no key is bucket 0', () => {
    const buckets = new Set(Array.from({ length: 1000 }, (_, i) => keyBucket(`k${i}`)));
    expect(buckets.size).toBe(KEY_BUCKETS);
    expect(keyBucket('k7')).toBe(keyBucket('k7'));
    expect(keyBucket(undefined)).toBe(0);
  });
});

const opArb = fc.record({
  sent: fc.integer({ min: 0, max: 10_000 }),
  latency: fc.integer({ min: 0, max: 3000 }),
  type: fc.constantFrom<TimelineOp['type']>('ok', 'ok', 'ok', 'fail', 'info'),
  bucket: fc.integer({ min: 0, max: 3 }),
});
const timelineArb = fc.array(opArb, { maxLength: 60 }).map((xs) => xs.map((x) => op(x.bucket, x.sent, x.sent + x.latency, x.type)));
const spanArb = fc
  .tuple(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 8000 }))
  .map(([start, held, more]) => ({ start, end: start + held, horizon: start + Math.max(1, more) }));

describe('faultEffect on generated timelines', () => {
  it('recovery is never negative, availability is within [0, 1], and the counts are of ops sent within the horizon', () => {
    fc.assert(
      fc.property(timelineArb, spanArb, (ops, span) => {
        const e = faultEffect(ops, span);
        if (e.recoveryS !== null) expect(e.recoveryS).toBeGreaterThanOrEqual(0);
        if (e.servedAgainAt !== null) expect(e.servedAgainAt).toBeGreaterThanOrEqual(span.start);
        if (e.availability !== null) {
          expect(e.availability).toBeGreaterThanOrEqual(0);
          expect(e.availability).toBeLessThanOrEqual(1);
        }
        const within = ops.filter((o) => o.sent >= span.start && o.sent < span.horizon);
        expect(e.ok + e.fail + e.info).toBeLessThanOrEqual(within.length);
        expect(e.availability === null).toBe(e.ok + e.fail + e.info === 0);
        if (e.longestOkMs !== null) expect(e.longestOkMs).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 500 },
    );
  });

  it('when every op succeeds, availability is 1 and the system served again', () => {
    fc.assert(
      fc.property(timelineArb, spanArb, (ops, span) => {
        const ok = ops.map((o) => ({ ...o, type: 'ok' as const }));
        const e = faultEffect(ok, span);
        const any = ok.some((o) => o.sent >= span.start && o.sent < span.horizon);
        expect(e.availability).toBe(any ? 1 : null);
        expect(e.servedAgainAt !== null).toBe(any);
      }),
      { numRuns: 300 },
    );
  });

  it('one more failed op never makes the recovery earlier, nor the availability higher', () => {
    fc.assert(
      fc.property(timelineArb, spanArb, opArb, (ops, span, extra) => {
        const before = faultEffect(ops, span);
        const after = faultEffect([...ops, op(extra.bucket, extra.sent, extra.sent + extra.latency, 'fail', 'x')], span);
        const at = (x: number | null) => (x === null ? Infinity : x);
        expect(at(after.servedAgainAt)).toBeGreaterThanOrEqual(at(before.servedAgainAt));
        // The counting window may grow with a later recovery, taking in more ok ops; the failed op's own share cannot help.
        if (before.servedAgainAt === after.servedAgainAt && before.availability !== null && after.availability !== null)
          expect(after.availability).toBeLessThanOrEqual(before.availability);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the faults of a nemesis history', () => {
  let index = 0;
  const ev = (type: Op['type'], f: string, value: Op['value'], time: number): Op => ({ index: index++, type, f, value, process: NEMESIS, time });

  it('pairs each start op with the op that ends it (or heal-all), with what was asked and what was done', () => {
    const history = [
      ev('invoke', 'kill', 'primary', 1e9),
      ev('info', 'kill', { target: 'primary', node: 'n2' }, 1.01e9),
      ev('invoke', 'start', null, 3e9),
      ev('info', 'start', { nodes: ['n2'] }, 3.2e9),
      ev('invoke', 'partition', 'halves', 5e9),
      ev('info', 'partition', { shape: 'halves', about: 'random halves' }, 5.1e9),
      ev('invoke', 'heal-all', null, 7e9),
      ev('info', 'heal-all', { partition: true }, 7.3e9),
    ];
    const spans = faultSpans(history, (e) => 10_000 + e.time / 1e6);
    expect(spans).toEqual([
      { f: 'kill', asked: 'primary', did: { target: 'primary', node: 'n2' }, stoppedBy: 'start', start: 11_000, end: 13_200 },
      { f: 'partition', asked: 'halves', did: { shape: 'halves', about: 'random halves' }, stoppedBy: 'heal-all', start: 15_000, end: 17_300 },
    ]);
    expect(describeFault(spans[0])).toBe('kill primary: n2');
    expect(describeFault(spans[1])).toBe('partition halves: random halves');

    // The first fault's horizon is the second's start; times in seconds since the bench's start (t0 = 10 s).
    const ops = [op(0, 11_000, 11_001, 'fail', 'refused'), op(0, 12_000, 12_050), op(1, 15_000, 15_500), op(1, 16_000, 16_010)];
    const records = faultRecords(spans, ops, 10_000, 20_000);
    expect(records.map((r) => [r.f, r.start, r.end, r.servedAgainAt, r.recoveryS, r.availability])).toEqual([
      ['kill', 1, 3.2, 2.05, 1.05, 0.5],
      ['partition', 5, 7.3, 5.5, 0.5, 1],
    ]);
  });

  it('a fault that never ended is open (end null), measured until the end of the window', () => {
    const spans = faultSpans([ev('invoke', 'pause', 'leader', 0), ev('info', 'pause', { target: 'leader', node: 'n1' }, 1e6)], (e) => e.time / 1e6);
    expect(spans).toEqual([{ f: 'pause', asked: 'leader', did: { target: 'leader', node: 'n1' }, stoppedBy: null, start: 0, end: null }]);
    const [r] = faultRecords(spans, [op(0, 10, 20, 'info', 'timed-out')], 0, 1000);
    expect(r).toMatchObject({ end: null, servedAgainAt: null, recoveryS: null, availability: 0, info: 1 });
  });
});
