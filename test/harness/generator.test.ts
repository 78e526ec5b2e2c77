// Each combinator on small examples, in virtual time.

import { describe, expect, it } from 'vitest';
import {
  Scheduler,
  any,
  clients,
  clientsAndNemesis,
  cycle,
  delay,
  eachProcess,
  eachThread,
  filter,
  fromFn,
  limit,
  map,
  mix,
  nemesis,
  onUpdate,
  phases,
  repeat,
  simulate,
  sleep,
  startStopCycle,
  untilOk,
  type Generator,
} from '../../harness/core/generator/index.js';
import { pairOps } from '../../history/pair.js';
import { NEMESIS, type Op } from '../../history/types.js';
import { MS, clientInvokes, completions, invokes, randomResponses } from './sim.js';

const fs = (ops: Op[]) => ops.map((o) => o.f);

describe('plain data as generators', () => {
  it('an op spec is one op; an array runs its elements in order', () => {
    // clients(): unrouted ops, as in Jepsen, may go to any worker, the nemesis included.
    const { history } = simulate(clients([{ f: 'a' }, { f: 'b', value: 2, key: 'k' }, null, [{ f: 'c' }]]), { concurrency: 1, seed: 1 });
    expect(fs(invokes(history))).toEqual(['a', 'b', 'c']);
    expect(invokes(history)[1]).toMatchObject({ value: 2, key: 'k', process: 0 });
  });

  it('a function makes a generator each time the last one is used up, until it returns null', () => {
    let calls = 0;
    const gen = fromFn((ctx) => (calls++ < 3 ? [{ f: 'w', value: ctx.random.int(10) }, { f: 'r' }] : null));
    const { history, ended } = simulate(gen, { concurrency: 1, seed: 1 });
    expect(fs(invokes(history))).toEqual(['w', 'r', 'w', 'r', 'w', 'r']);
    expect(ended).toBe('exhausted');
  });

  it('repeat runs the same op again, n times or until stopped', () => {
    expect(invokes(simulate(repeat({ f: 'r' }, 4), { concurrency: 2, seed: 1 }).history)).toHaveLength(4);
    const endless = simulate(repeat({ f: 'r' }), { concurrency: 2, seed: 1, maxInvocations: 50 });
    expect(endless.ended).toBe('max-invocations');
    expect(invokes(endless.history)).toHaveLength(50);
  });

  it('map and filter transform and drop ops', () => {
    let i = 0;
    const numbers = fromFn(() => ({ f: 'w', value: i++ }));
    const gen = limit(
      5,
      map(
        (op) => ({ ...op, value: (op.value as number) * 10 }),
        filter((op) => (op.value as number) % 2 === 0, numbers),
      ),
    );
    expect(invokes(simulate(gen, { concurrency: 1, seed: 1 }).history).map((o) => o.value)).toEqual([0, 20, 40, 60, 80]);
  });
});

describe('mix and any', () => {
  it('mix draws each op from a generator chosen at random and drops exhausted ones', () => {
    const gen = mix([repeat({ f: 'a' }), repeat({ f: 'b' }), limit(5, repeat({ f: 'c' }))]);
    const ops = invokes(simulate(limit(3000, gen), { concurrency: 4, seed: 3 }).history);
    const count = (f: string) => ops.filter((o) => o.f === f).length;
    expect(count('c')).toBe(5);
    expect(Math.abs(count('a') - count('b'))).toBeLessThan(200);
  });

  it('any takes the soonest op of its generators', () => {
    const gen = limit(6, any(delay(10 * MS, repeat({ f: 'slow' })), delay(4 * MS, repeat({ f: 'fast' }))));
    const ops = invokes(simulate(gen, { concurrency: 1, seed: 1, respond: () => ({ latencyNs: 0 }) }).history);
    expect(ops.map((o) => o.time / MS)).toEqual([0, 0, 4, 8, 10, 12]);
    expect(new Set(fs(ops.slice(0, 2)))).toEqual(new Set(['slow', 'fast']));
    expect(fs(ops.slice(2))).toEqual(['fast', 'fast', 'slow', 'fast']);
  });
});

describe('timing', () => {
  it('delay spaces ops exactly dt apart while workers keep up', () => {
    const { history } = simulate(limit(5, delay(3 * MS, repeat({ f: 'r' }))), { concurrency: 2, seed: 1 });
    expect(invokes(history).map((o) => o.time)).toEqual([0, 3, 6, 9, 12].map((t) => t * MS));
  });

  it('sleep pauses a sequence without taking a worker', () => {
    const { history } = simulate([{ f: 'a' }, sleep(5 * MS), { f: 'b' }], { concurrency: 1, seed: 1, respond: () => ({ latencyNs: 2 * MS }) });
    // The sleep counts from when a's worker is idle again (2 ms).
    expect(invokes(history).map((o) => [o.f, o.time / MS])).toEqual([
      ['a', 0],
      ['b', 7],
    ]);
  });
});

describe('phases', () => {
  it('starts each phase only after every op of the previous one completed', () => {
    const gen = phases(limit(6, repeat({ f: 'one' })), { f: 'two' }, limit(3, repeat({ f: 'three' })));
    const { history } = simulate(gen, { concurrency: 3, seed: 5, respond: randomResponses(5 * MS) });
    const lastOne = Math.max(
      ...completions(history)
        .filter((o) => o.f === 'one')
        .map((o) => o.index),
    );
    const two = history.find((o) => o.f === 'two' && o.type === 'invoke') as Op;
    expect(two.index).toBe(lastOne + 1);
  });
});

describe('per-worker copies', () => {
  it('eachThread gives every worker its own copy, kept through retirement', () => {
    const gen = clients(eachThread([{ f: 'a' }, { f: 'b' }]));
    // Every op ends info: each worker's process is replaced after each op.
    const { history } = simulate(gen, { concurrency: 3, seed: 2, respond: () => ({ type: 'info', latencyNs: MS }) });
    const ops = invokes(history);
    expect(ops).toHaveLength(6);
    for (let t = 0; t < 3; t++) expect(fs(ops.filter((o) => (o.process as number) % 3 === t))).toEqual(['a', 'b']);
  });

  it('eachProcess starts a fresh copy for each new process', () => {
    const gen = clients(limit(9, eachProcess([{ f: 'a' }, { f: 'b' }])));
    const { history } = simulate(gen, { concurrency: 3, seed: 2, respond: () => ({ type: 'info', latencyNs: MS }) });
    // Each process does one op and is retired, so its successor starts over at a.
    expect(new Set(fs(invokes(history)))).toEqual(new Set(['a']));
    expect(invokes(history)).toHaveLength(9);
  });
});

describe('routing and fault schedules', () => {
  it('client ops go to numeric processes and nemesis ops to the nemesis', () => {
    const gen = limit(200, clientsAndNemesis(repeat({ f: 'read' }), repeat({ f: 'kill' })));
    const { history } = simulate(gen, { concurrency: 4, seed: 9, respond: randomResponses(MS) });
    const ops = invokes(history);
    expect(ops.some((o) => o.f === 'kill')).toBe(true);
    for (const o of ops) expect(o.f === 'kill').toBe(o.process === NEMESIS);
    // Nemesis ops are invoked then completed as info; they pair like any op.
    const nemesisEvents = history.filter((o) => o.process === NEMESIS);
    expect(nemesisEvents.map((o) => o.type)).toEqual(nemesisEvents.map((_, i) => (i % 2 === 0 ? 'invoke' : 'info')));
    pairOps(history);
  });

  it('startStopCycle alternates, holding each fault and each quiet period for their durations', () => {
    const gen = clientsAndNemesis(
      limit(500, repeat({ f: 'read' })),
      startStopCycle({ start: { f: 'start' }, stop: { f: 'stop' }, quietNs: 10 * MS, faultNs: 20 * MS, rounds: 3 }),
    );
    const { history } = simulate(gen, { concurrency: 2, seed: 4, respond: (op) => ({ latencyNs: op.process === NEMESIS ? 3 * MS : 0.1 * MS }) });
    const nem = history.filter((o) => o.process === NEMESIS);
    expect(nem.map((o) => `${o.type} ${o.f}`)).toEqual(Array.from({ length: 3 }, () => ['invoke start', 'info start', 'invoke stop', 'info stop']).flat());
    // Fault held 20 ms from start's completion; quiet 10 ms from the previous stop's completion.
    for (let i = 0; i < nem.length; i += 4) {
      expect(nem[i + 2].time - nem[i + 1].time).toBe(20 * MS);
      if (i > 0) expect(nem[i].time - nem[i - 1].time).toBe(10 * MS);
    }
    expect(nem[0].time).toBe(10 * MS);
  });

  it('cycle restarts a finite generator, and an empty one ends instead of spinning', () => {
    expect(fs(invokes(simulate(cycle([{ f: 'x' }, { f: 'y' }], 3), { concurrency: 1, seed: 1 }).history))).toEqual(['x', 'y', 'x', 'y', 'x', 'y']);
    expect(simulate(cycle([]), { concurrency: 1, seed: 1 }).history).toEqual([]);
  });
});

describe('feedback', () => {
  it('untilOk retries until an op succeeds', () => {
    let n = 0;
    const { history } = simulate(clients(untilOk(repeat({ f: 'read' }))), {
      concurrency: 1,
      seed: 1,
      respond: () => ({ type: n++ < 2 ? 'fail' : 'ok', latencyNs: MS }),
    });
    expect(completions(history).map((o) => o.type)).toEqual(['fail', 'fail', 'ok']);
  });

  it('onUpdate lets a generator react to completions: read back every acknowledged write', () => {
    let v = 0;
    const writes = limit(
      20,
      fromFn(() => ({ f: 'write', value: v++ })),
    );
    const readBack = (inner: Generator, ctx: Parameters<Generator['update']>[0], event: Op) => {
      const rest = inner.update(ctx, event);
      return event.f === 'write' && event.type === 'ok' ? [{ f: 'read', value: event.value }, rest] : rest;
    };
    const { history } = simulate(clients(onUpdate(writes, readBack)), { concurrency: 3, seed: 6, respond: randomResponses(2 * MS, 0.3) });
    const okWrites = completions(history).filter((o) => o.f === 'write' && o.type === 'ok');
    const reads = invokes(history).filter((o) => o.f === 'read');
    expect(reads.map((o) => o.value).sort()).toEqual(okWrites.map((o) => o.value).sort());
    for (const r of reads) {
      const w = okWrites.find((o) => o.value === r.value) as Op;
      expect(r.index).toBeGreaterThan(w.index);
    }
  });
});

describe('the scheduler', () => {
  it('retires a client process after info (new id = old + concurrency) but never the nemesis', () => {
    const s = new Scheduler(clientsAndNemesis(repeat({ f: 'read' }), repeat({ f: 'kill' })), { concurrency: 2, seed: 1 });
    const taken: Op[] = [];
    for (let i = 0; i < 3; i++) {
      const p = s.poll(0);
      if (p.kind !== 'invoke') throw new Error(`expected an op, got ${p.kind}`);
      const ev: Op = { index: i, type: 'invoke', f: p.op.f, value: null, process: p.op.process, time: 0 };
      s.invoked(ev);
      taken.push(ev);
    }
    expect(s.poll(0)).toEqual({ kind: 'wait' });
    expect(new Set(taken.map((o) => o.process))).toEqual(new Set([0, 1, NEMESIS]));
    for (const [i, ev] of taken.entries()) s.completed({ ...ev, index: 3 + i, type: 'info', time: 1 });
    expect([s.processOf(0), s.processOf(1), s.processOf(NEMESIS)]).toEqual([2, 3, NEMESIS]);
    expect(() => s.completed({ ...taken[0], index: 9, type: 'ok', time: 2 })).toThrow(/no op outstanding/);
  });

  it('says so when a generator waits for something that can never happen', () => {
    // Phase two waits for the nemesis worker, which is busy for ever in phase one... except that
    // nothing is outstanding: a generator that is pending with nothing to wake it.
    const stuck: Generator = { op: () => ({ kind: 'pending', next: stuck }), update: () => stuck };
    expect(() => simulate(stuck, { concurrency: 1, seed: 1 })).toThrow(/can never go on/);
  });

  it('runs nemesis and clients side by side until the time is up', () => {
    const gen = clientsAndNemesis(repeat({ f: 'read' }), nemesis(repeat({ f: 'noop' })));
    const sim = simulate(gen, { concurrency: 2, seed: 1, maxTimeNs: 50 * MS, respond: randomResponses(MS) });
    expect(sim.ended).toBe('max-time');
    expect(Math.max(...invokes(sim.history).map((o) => o.time))).toBeLessThan(50 * MS);
    expect(clientInvokes(sim.history).length).toBeGreaterThan(50);
  });
});
