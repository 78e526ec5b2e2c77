// The set, append, bank, stats and perf checkers, and their composition.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendChecker, bankChecker, compose, perfChecker, setChecker, statsChecker, linearizable } from '../../checkers/index.js';
import { modelNamed } from '../../checkers/linearizability/index.js';
import { pairOps } from '../../history/pair.js';
import type { History, Op, Value } from '../../history/types.js';
import { choicesArb, simOptions, simulate } from './linearizability/gen.js';

type Row = [number, Op['type'], string, Value, string?];
/** A history from compact rows [process, type, f, value, key?], 1 ms apart. */
function h(rows: Row[]): History {
  return rows.map(([process, type, f, value, key], index) => ({ index, time: index * 1e6, process, type, f, value, ...(key !== undefined ? { key } : {}) }));
}
const run = (checker: ReturnType<typeof bankChecker>, history: History) => checker(history, pairOps(history));

describe('set', () => {
  it('valid when the final read holds every acknowledged add', () => {
    const r = run(
      setChecker,
      h([
        [0, 'invoke', 'add', 1],
        [0, 'ok', 'add', 1],
        [1, 'invoke', 'add', 2],
        [1, 'info', 'add', 2],
        [0, 'invoke', 'add', 3],
        [0, 'fail', 'add', 3],
        [0, 'invoke', 'read', null],
        [0, 'ok', 'read', [1, 2]],
      ]),
    );
    expect(r.verdict).toBe('valid');
    expect(r).toMatchObject({ attempted: 3, acknowledged: 1, lost: [], recovered: [2], unexpected: [] });
  });

  it('finds lost, unexpected and failed-but-present elements', () => {
    const r = run(
      setChecker,
      h([
        [0, 'invoke', 'add', 1],
        [0, 'ok', 'add', 1],
        [0, 'invoke', 'add', 3],
        [0, 'fail', 'add', 3],
        [0, 'invoke', 'read', null],
        [0, 'ok', 'read', [3, 9]],
      ]),
    );
    expect(r.verdict).toBe('invalid');
    expect(r).toMatchObject({ lost: [1], unexpected: [9], failedButPresent: [3] });
  });

  it('unknown without a final read', () => {
    expect(
      run(
        setChecker,
        h([
          [0, 'invoke', 'add', 1],
          [0, 'ok', 'add', 1],
        ]),
      ).verdict,
    ).toBe('unknown');
  });

  it('property: a linearizable set store is valid; dropping an acknowledged element from the last read is caught', () => {
    fc.assert(
      fc.property(simOptions('set', 40), choicesArb, (opts, choices) => {
        const history = withFinalRead(simulate({ ...opts, keys: 1 }, choices));
        const ops = pairOps(history);
        expect(setChecker(history, ops).verdict).toBe('valid');
        const final = ops.filter((o) => o.f === 'read' && o.type === 'ok').sort((a, b) => b.completeIndex - a.completeIndex)[0];
        const acked = ops.find((o) => o.f === 'add' && o.type === 'ok' && o.completeIndex < (final?.invokeIndex ?? -1));
        if (!final || !acked) return;
        const broken = history.map((op) => (op.index === final.completeIndex ? { ...op, value: (op.value as number[]).filter((x) => x !== acked.input) } : op));
        const r = setChecker(broken, pairOps(broken));
        expect(r.verdict).toBe('invalid');
        expect(r.lost).toContain(acked.input);
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * Adds the final read a set test ends with, after every op: it holds every
 * acknowledged add and everything an earlier read saw (adds are permanent),
 * which is what the simulated store holds, less unknown adds never seen.
 */
function withFinalRead(history: History): History {
  const elems = new Set<number>();
  for (const op of pairOps(history)) {
    if (op.f === 'add' && op.type === 'ok') elems.add(op.input as number);
    if (op.f === 'read' && op.type === 'ok') for (const x of op.output as number[]) elems.add(x);
  }
  const t = history.length;
  const p = 1000;
  return [
    ...history,
    { index: t, time: t * 1e6, process: p, type: 'invoke', f: 'read', value: null },
    { index: t + 1, time: (t + 1) * 1e6, process: p, type: 'ok', f: 'read', value: [...elems].sort((a, b) => a - b) },
  ];
}

describe('append', () => {
  const base: Row[] = [
    [0, 'invoke', 'append', 1, 'k'],
    [0, 'ok', 'append', 1, 'k'],
    [0, 'invoke', 'append', 2, 'k'],
    [0, 'ok', 'append', 2, 'k'],
    [1, 'invoke', 'read', null, 'k'],
    [1, 'ok', 'read', [1, 2], 'k'],
  ];
  it('valid for reads that are prefixes of one order', () => {
    const r = run(appendChecker, h([...base, [1, 'invoke', 'read', null, 'j'], [1, 'ok', 'read', [], 'j']]));
    expect(r.verdict).toBe('valid');
    expect(r).toMatchObject({ keys: 2, reads: 2, appends: 2 });
  });

  const kinds = (rows: Row[]) => (run(appendChecker, h(rows)).anomalies as { kind: string }[]).map((a) => a.kind);
  it('finds each anomaly', () => {
    expect(
      kinds([
        ...base.slice(0, 4),
        [1, 'invoke', 'read', null, 'k'],
        [1, 'ok', 'read', [2, 1], 'k'],
        [1, 'invoke', 'read', null, 'k'],
        [1, 'ok', 'read', [1, 2], 'k'],
      ]),
    ).toContain('incompatible-order');
    expect(kinds([...base.slice(0, 4), [1, 'invoke', 'read', null, 'k'], [1, 'ok', 'read', [1, 1, 2], 'k']])).toContain('duplicate');
    expect(kinds([...base.slice(0, 4), [1, 'invoke', 'read', null, 'k'], [1, 'ok', 'read', [1, 2, 7], 'k']])).toContain('unexpected');
    expect(
      kinds([
        ...base.slice(0, 4),
        [0, 'invoke', 'append', 3, 'k'],
        [0, 'fail', 'append', 3, 'k'],
        [1, 'invoke', 'read', null, 'k'],
        [1, 'ok', 'read', [1, 2, 3], 'k'],
      ]),
    ).toContain('failed-but-present');
    expect(kinds([...base.slice(0, 4), [1, 'invoke', 'read', null, 'k'], [1, 'ok', 'read', [1], 'k']])).toContain('lost');
    expect(
      kinds([
        [0, 'invoke', 'append', 1, 'k'],
        [1, 'invoke', 'read', null, 'k'],
        [1, 'ok', 'read', [1], 'k'],
        [1, 'invoke', 'read', null, 'k'],
        [1, 'ok', 'read', [], 'k'],
        [0, 'ok', 'append', 1, 'k'],
      ]),
    ).toEqual(['stale-read']);
  });

  it('allows an append with an unknown outcome to show up or not', () => {
    const r = run(
      appendChecker,
      h([
        [0, 'invoke', 'append', 1, 'k'],
        [0, 'info', 'append', 1, 'k'],
        [1, 'invoke', 'read', null, 'k'],
        [1, 'ok', 'read', [], 'k'],
        [1, 'invoke', 'read', null, 'k'],
        [1, 'ok', 'read', [1], 'k'],
      ]),
    );
    expect(r.verdict).toBe('valid');
  });

  it('property: histories of a linearizable list store are valid', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 999 }), { minLength: 1, maxLength: 400 }), fc.integer({ min: 1, max: 5 }), (choices, clients) => {
        const history = simulateLists(choices, clients);
        expect(appendChecker(history, pairOps(history)).verdict).not.toBe('invalid');
      }),
      { numRuns: 300 },
    );
  });
});

/** Clients append unique elements to 2 keys' lists and read them; each op takes effect atomically while open. */
function simulateLists(choices: number[], clients: number): History {
  let c = 0;
  const r = () => choices[c++ % choices.length] / 1000;
  const lists = new Map<string, number[]>();
  const open = new Map<number, { f: string; key: string; value: Value; done?: Value }>();
  const history: History = [];
  const emit = (op: Omit<Op, 'index' | 'time'>) => history.push({ ...op, index: history.length, time: history.length * 1e6 } as Op);
  let next = 0;
  for (let step = 0; step < choices.length * 2; step++) {
    const p = Math.floor(r() * clients);
    const o = open.get(p);
    if (!o) {
      const key = r() < 0.5 ? 'a' : 'b';
      const op = r() < 0.5 ? { f: 'append', key, value: next++ } : { f: 'read', key, value: null };
      open.set(p, op);
      emit({ type: 'invoke', process: p, ...op });
    } else if (o.done === undefined) {
      const list = lists.get(o.key) ?? [];
      if (o.f === 'append') lists.set(o.key, [...list, o.value as number]);
      o.done = o.f === 'append' ? o.value : [...list];
    } else {
      open.delete(p);
      emit({ type: 'ok', process: p, f: o.f, key: o.key, value: o.done });
    }
  }
  return history;
}

describe('bank', () => {
  const bank = bankChecker({ total: 100 });
  it('valid when every read sees the total and no negative balance', () => {
    const r = run(
      bank,
      h([
        [0, 'invoke', 'transfer', { from: 'a', to: 'b', amount: 10 }],
        [0, 'ok', 'transfer', { from: 'a', to: 'b', amount: 10 }],
        [1, 'invoke', 'read', null],
        [1, 'ok', 'read', { a: 40, b: 60 }],
      ]),
    );
    expect(r.verdict).toBe('valid');
    expect(r.transfers).toEqual({ ok: 1, fail: 0, info: 0 });
  });
  it('finds a wrong total, a negative balance and a malformed read', () => {
    const r = run(
      bank,
      h([
        [1, 'invoke', 'read', null],
        [1, 'ok', 'read', { a: 40, b: 70 }],
        [1, 'invoke', 'read', null],
        [1, 'ok', 'read', { a: -10, b: 110 }],
        [1, 'invoke', 'read', null],
        [1, 'ok', 'read', 'x'],
      ]),
    );
    expect(r.verdict).toBe('invalid');
    expect((r.anomalies as { kind: string }[]).map((a) => a.kind)).toEqual(['wrong-total', 'negative', 'malformed-read']);
  });
});

describe('stats, perf and compose', () => {
  const history = h([
    [0, 'invoke', 'write', 1],
    [0, 'ok', 'write', 1],
    [1, 'invoke', 'read', null],
    [1, 'info', 'read', null],
    [2, 'invoke', 'cas', [1, 2]],
    [2, 'fail', 'cas', [1, 2]],
  ]);
  it('stats counts per f and calls a test where some f never succeeded invalid', () => {
    const r = run(statsChecker, history);
    expect(r.byF).toEqual({
      write: { count: 1, ok: 1, fail: 0, info: 0 },
      read: { count: 1, ok: 0, fail: 0, info: 1 },
      cas: { count: 1, ok: 0, fail: 1, info: 0 },
    });
    expect(r.neverOk).toEqual(['cas', 'read']);
    expect(r.verdict).toBe('invalid');
  });
  it('perf measures latency of ok ops and throughput', () => {
    const r = run(perfChecker, history);
    expect(r.latency).toMatchObject({ count: 1, p50: 1, max: 1 });
    expect(r.duration).toBeCloseTo(0.005);
    expect(r.perSecond).toEqual([{ second: 0, ok: 1, fail: 1, info: 1 }]);
    expect(r.verdict).toBe('valid');
  });
  it('compose takes the worst verdict', () => {
    const both = compose({ linear: linearizable(modelNamed('cas-register')), perf: perfChecker });
    const r = both(history, pairOps(history));
    expect(r.results.linear.verdict).toBe('valid');
    expect(r.verdict).toBe('valid');
    const withStats = compose({ linear: linearizable(modelNamed('cas-register')), stats: statsChecker })(history, pairOps(history));
    expect(withStats.verdict).toBe('invalid');
    expect(withStats.valid).toBe(false);
  });
});
