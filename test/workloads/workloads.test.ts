// The workloads' op generators (seeded, bounded per key, unique values) and
// the reference system's client: its library's outcomes as history completions.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clients, clientsAndNemesis, phases, simulate, stagger, timeLimit } from '../../harness/core/generator/index.js';
import type { Invocation } from '../../harness/core/generator/index.js';
import type { KvOutcome } from '../../system-under-test/client/index.js';
import { invokerFor } from '../../adapters/reference/client.js';
import type { Workload } from '../../harness/core/workload.js';
import { workloadNamed } from '../../workloads/index.js';

const makeWorkload = (name: string, p: typeof params) => workloadNamed(name).make(p);
import { faultSchedule, HEAL_ALL } from '../../nemesis/schedule.js';
import { nemesis as onNemesis } from '../../harness/core/generator/index.js';
import { healerOf } from '../../results/report-data.js';

const params = { keys: 4, opsPerKey: 50, rate: 200 };

function run(w: Workload, seed: number, seconds = 5) {
  return simulate(timeLimit(seconds * 1e9, stagger(1e9 / params.rate, w.generator)), { concurrency: 5, seed, maxInvocations: 5000 });
}

const invocations = (h: ReturnType<typeof run>['history']) =>
  h.filter((op) => op.type === 'invoke').map(({ f, key, value, process }) => ({ f, key, value, process }));

describe('workload generators', () => {
  it('give the same ops for the same seed, and other ops for another seed', () => {
    for (const name of ['register', 'set', 'append', 'bank']) {
      const a = invocations(run(makeWorkload(name, params), 7).history);
      const b = invocations(run(makeWorkload(name, params), 7).history);
      const c = invocations(run(makeWorkload(name, params), 8).history);
      expect(a.length).toBeGreaterThan(500);
      expect(b).toEqual(a);
      expect(c).not.toEqual(a);
    }
  });

  it('register: keys roll so that each key sees about opsPerKey ops, and values are small', () => {
    const h = invocations(run(makeWorkload('register', params), 3, 10).history);
    const perKey = new Map<string, number>();
    for (const op of h) perKey.set(String(op.key), (perKey.get(String(op.key)) ?? 0) + 1);
    expect(perKey.size).toBeGreaterThanOrEqual(params.keys * 4);
    // 200 ops/s over 4 keys, each key live for opsPerKey*keys/rate = 1 s: ~50 ops per key.
    expect(Math.max(...perKey.values())).toBeLessThan(params.opsPerKey * 2);
    expect(new Set(h.map((op) => op.f))).toEqual(new Set(['read', 'write', 'cas']));
  });

  it('set and append: every added element is unique', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), (seed) => {
        for (const name of ['set', 'append']) {
          const values = invocations(run(makeWorkload(name, params), seed, 2).history)
            .filter((op) => op.f === 'add' || op.f === 'append')
            .map((op) => op.value);
          expect(new Set(values).size).toBe(values.length);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('bank: transfers move 1..5 between two different accounts of the {bank} group', () => {
    const w = makeWorkload('bank', params);
    const accounts = w.options.accounts as string[];
    expect(accounts.every((a) => a.startsWith('{bank}'))).toBe(true);
    const transfers = invocations(run(w, 5).history).filter((op) => op.f === 'transfer');
    expect(transfers.length).toBeGreaterThan(100);
    for (const t of transfers) {
      const v = t.value as { from: string; to: string; amount: number };
      expect(v.from).not.toBe(v.to);
      expect(accounts).toContain(v.from);
      expect(v.amount).toBeGreaterThanOrEqual(1);
      expect(v.amount).toBeLessThanOrEqual(5);
    }
  });

  it('a whole test generator (ops, faults, heal-all, final reads) replays by seed', () => {
    const w = makeWorkload('set', params);
    const schedule = faultSchedule({ kinds: ['kill', 'pause', 'partition', 'clock'], nodes: ['n1', 'n2', 'n3', 'd1', 'd2'], quietMs: 300, holdMs: 300 });
    const gen = () =>
      phases(clientsAndNemesis(timeLimit(5e9, stagger(1e9 / 100, w.generator)), timeLimit(5e9, schedule)), onNemesis(HEAL_ALL), clients(w.final));
    const a = simulate(gen(), { concurrency: 4, seed: 11, maxInvocations: 5000 }).history;
    const b = simulate(gen(), { concurrency: 4, seed: 11, maxInvocations: 5000 }).history;
    expect(b).toEqual(a);
    const nemesisOps = a.filter((op) => op.process === 'nemesis' && op.type === 'invoke').map((op) => op.f);
    expect(nemesisOps.length).toBeGreaterThanOrEqual(8);
    expect(nemesisOps.at(-1)).toBe('heal-all');
    // Each start is followed by its own stop before the next start.
    for (let i = 0; i + 1 < nemesisOps.length - 1; i += 2) expect(nemesisOps[i + 1]).toBe(healerOf(nemesisOps[i]));
    // The final reads come after heal-all: one ok read per worker at most.
    const healAt = a.findIndex((op) => op.f === 'heal-all');
    const finalReads = a.slice(healAt).filter((op) => op.f === 'read' && op.type === 'invoke');
    expect(finalReads.length).toBeGreaterThanOrEqual(4);
  });

  it('with overlap, each kind keeps its own start/stop cycle and faults of different kinds are in force at once', () => {
    const kinds = ['kill', 'partition', 'clock'] as const;
    const schedule = () => faultSchedule({ kinds, nodes: ['n1', 'n2', 'd1', 'd2'], quietMs: 300, holdMs: 600, overlap: true });
    const a = simulate(timeLimit(30e9, onNemesis(schedule())), { concurrency: 1, seed: 5, maxInvocations: 2000 }).history;
    expect(simulate(timeLimit(30e9, onNemesis(schedule())), { concurrency: 1, seed: 5, maxInvocations: 2000 }).history).toEqual(a);
    // Faults in force, known by the op that ends them (the report's pairing): per kind start, stop, start, stop...
    const inForce = new Set<string>();
    let most = 0;
    for (const op of a.filter((o) => o.type === 'invoke')) {
      const stop = healerOf(op.f);
      if (stop !== undefined) {
        expect(inForce.has(stop), `${op.f} while a fault that ${stop} ends is in force`).toBe(false);
        inForce.add(stop);
      } else {
        expect(inForce.has(op.f), `${op.f} with no fault of its kind in force`).toBe(true);
        inForce.delete(op.f);
      }
      most = Math.max(most, inForce.size);
    }
    expect(most).toBe(kinds.length);
    // Every kind ran several times in 30 s.
    for (const stop of ['start', 'heal', 'clock-reset'])
      expect(a.filter((o) => o.type === 'invoke' && healerOf(o.f) === stop).length).toBeGreaterThanOrEqual(5);
  });
});

/** A client library double that answers from a script. */
function fakeKv(answer: (call: string, args: unknown[]) => KvOutcome) {
  const call =
    (name: string) =>
    async (...args: unknown[]) =>
      answer(name, args.slice(0, -1));
  return {
    read: call('read'),
    write: call('write'),
    cas: call('cas'),
    append: call('append'),
    transfer: call('transfer'),
    readMany: call('readMany'),
    close: async () => {},
  } as never;
}

const op = (f: string, value: unknown, key?: string): Invocation => ({ f, value: value as never, key, process: 0, time: 0 });
const signal = new AbortController().signal;

describe("the reference system's workload clients", () => {
  it('map ok, fail and info honestly, and shape read values', async () => {
    const reg = { invoke: invokerFor('register', {}) };
    const calls: unknown[] = [];
    const kv = fakeKv((name, args) => {
      calls.push([name, ...args]);
      if (name === 'cas') return { type: 'fail', error: 'cas-mismatch' };
      if (name === 'write') return { type: 'info', error: 'timeout' };
      return { type: 'ok', value: 3 };
    });
    expect(await reg.invoke(kv, op('read', null, 'r1'), signal)).toEqual({ type: 'ok', value: 3 });
    expect(await reg.invoke(kv, op('cas', [1, 2], 'r1'), signal)).toEqual({ type: 'fail', error: 'cas-mismatch' });
    expect(await reg.invoke(kv, op('write', 4, 'r1'), signal)).toEqual({ type: 'info', error: 'timeout' });
    expect(calls).toEqual([
      ['read', 'r1'],
      ['cas', 'r1', 1, 2],
      ['write', 'r1', 4],
    ]);

    const set = { invoke: invokerFor('set', {}) };
    const empty = fakeKv(() => ({ type: 'ok', value: null }));
    expect(await set.invoke(empty, op('read', null), signal)).toEqual({ type: 'ok', value: [] });

    const bankWorkload = makeWorkload('bank', params);
    const accounts = bankWorkload.options.accounts as string[];
    const bank = { invoke: invokerFor('bank', bankWorkload.options) };
    const partial = fakeKv(() => ({ type: 'ok', value: { [accounts[0]]: 60, [accounts[1]]: 40 } }));
    const read = await bank.invoke(partial, op('read', null), signal);
    expect(read.type).toBe('ok');
    expect(Object.values(read.value as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(100);
    expect(Object.keys(read.value as object)).toEqual(accounts);
  });

  it('bank setup writes the opening balances (summing to the total), which the client carries out as writes', async () => {
    const bank = makeWorkload('bank', params);
    const accounts = bank.options.accounts as string[];
    expect(bank.setup!.map((o) => o.f)).toEqual(accounts.map(() => 'write'));
    expect(bank.setup!.map((o) => o.key)).toEqual(accounts);
    expect(bank.setup!.reduce((a, o) => a + (o.value as number), 0)).toBe(bank.options.total);
    const written = new Map<string, number>();
    const kv = fakeKv((name, args) => {
      if (name !== 'write') throw new Error(name);
      written.set(args[0] as string, args[1] as number);
      return { type: 'ok' };
    });
    const invoke = invokerFor('bank', bank.options);
    for (const o of bank.setup!) expect(await invoke(kv, op(o.f, o.value, o.key as string), signal)).toEqual({ type: 'ok' });
    expect([...written.values()].reduce((a, b) => a + b, 0)).toBe(bank.options.total);
  });
});
