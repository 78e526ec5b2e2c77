// Properties of generators over random compositions, seeds and system
// behaviour, driven in virtual time by the simulator.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clients,
  clientsAndNemesis,
  cycle,
  delay,
  eachThread,
  fromFn,
  limit,
  mix,
  phases,
  simulate,
  stagger,
  startStopCycle,
  timeLimit,
  untilOk,
  type Generator,
} from '../../harness/core/generator/index.js';
import { pairOps } from '../../history/pair.js';
import { NEMESIS, type History } from '../../history/types.js';
import { MS, clientInvokes, completions, invokes, randomResponses } from './sim.js';

/** A generator composition as data, so fast-check can build and shrink it. */
type Spec =
  | { leaf: 'write' | 'read' | 'cas' }
  | { mix: Spec[] }
  | { stagger: number; of: Spec }
  | { delay: number; of: Spec }
  | { limit: number; of: Spec }
  | { timeLimit: number; of: Spec }
  | { phases: Spec[] }
  | { eachThread: Spec }
  | { cycle: number; of: Spec }
  | { untilOk: Spec };

const specArb: fc.Arbitrary<Spec> = fc.letrec<{ spec: Spec }>((tie) => ({
  spec: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ leaf: fc.constantFrom('write' as const, 'read' as const, 'cas' as const) }),
    fc.record({ mix: fc.array(tie('spec'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ stagger: fc.integer({ min: 1, max: 5 * MS }), of: tie('spec') }),
    fc.record({ delay: fc.integer({ min: 1, max: 5 * MS }), of: tie('spec') }),
    fc.record({ limit: fc.integer({ min: 0, max: 30 }), of: tie('spec') }),
    fc.record({ timeLimit: fc.integer({ min: 1, max: 50 * MS }), of: tie('spec') }),
    fc.record({ phases: fc.array(tie('spec'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ eachThread: tie('spec') }),
    fc.record({ cycle: fc.integer({ min: 1, max: 3 }), of: tie('spec') }),
    fc.record({ untilOk: tie('spec') }),
  ),
})).spec;

/** A fresh generator for the spec: nothing is shared between two builds. */
function build(spec: Spec): Generator {
  if ('leaf' in spec) {
    const f = spec.leaf;
    return fromFn((ctx) => ({
      f,
      key: ctx.random.int(3),
      value: f === 'read' ? null : f === 'write' ? ctx.random.int(5) : [ctx.random.int(5), ctx.random.int(5)],
    }));
  }
  if ('mix' in spec) return mix(spec.mix.map(build));
  if ('stagger' in spec) return stagger(spec.stagger, build(spec.of));
  if ('delay' in spec) return delay(spec.delay, build(spec.of));
  if ('limit' in spec) return limit(spec.limit, build(spec.of));
  if ('timeLimit' in spec) return timeLimit(spec.timeLimit, build(spec.of));
  if ('phases' in spec) return phases(...spec.phases.map(build));
  if ('eachThread' in spec) return eachThread(limit(3, build(spec.eachThread)));
  if ('cycle' in spec) return cycle(limit(4, build(spec.of)), spec.cycle);
  return untilOk(build(spec.untilOk));
}

function run(spec: Spec, seed: number, concurrency: number): History {
  const gen = clientsAndNemesis(build(spec), startStopCycle({ start: { f: 'start' }, stop: { f: 'stop' }, quietNs: 7 * MS, faultNs: 11 * MS }));
  return simulate(gen, { concurrency, seed, respond: randomResponses(3 * MS, 0.1, 0.1), maxInvocations: 300, maxTimeNs: 500 * MS }).history;
}

const seedArb = fc.integer({ min: -(2 ** 40), max: 2 ** 40 });

describe('generator properties', () => {
  it('the same seed gives the same history; every history pairs and is routed right', () => {
    fc.assert(
      fc.property(specArb, seedArb, fc.integer({ min: 1, max: 6 }), (spec, seed, concurrency) => {
        const a = run(spec, seed, concurrency);
        expect(run(spec, seed, concurrency)).toEqual(a);
        pairOps(a);
        for (const op of invokes(a)) expect(op.process === NEMESIS).toBe(op.f === 'start' || op.f === 'stop');
      }),
      { numRuns: 150 },
    );
  });

  it('another seed gives another op sequence', () => {
    const spec: Spec = { limit: 30, of: { mix: [{ leaf: 'write' }, { leaf: 'read' }, { leaf: 'cas' }] } };
    const ops = (seed: number) => JSON.stringify(clientInvokes(run(spec, seed, 3)).map((o) => [o.f, o.key, o.value]));
    expect(ops(1)).not.toEqual(ops(2));
  });

  it('limit: exactly n ops from an endless generator, whatever the system does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        seedArb,
        fc.integer({ min: 1, max: 8 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        (n, seed, concurrency, infoShare) => {
          const sim = simulate(clients(limit(n, build({ leaf: 'write' }))), { concurrency, seed, respond: randomResponses(2 * MS, 0.2, infoShare) });
          expect(sim.ended).toBe('exhausted');
          expect(invokes(sim.history)).toHaveLength(n);
          expect(completions(sim.history)).toHaveLength(n);
        },
      ),
    );
  });

  it('timeLimit: every op invoked within the limit from the phase start, and the next phase after', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: MS, max: 100 * MS }),
        fc.integer({ min: 1, max: 10 * MS }),
        seedArb,
        (first, lim, dt, seed) => {
          const gen = clients(phases(limit(first, build({ leaf: 'read' })), timeLimit(lim, stagger(dt, build({ leaf: 'write' }))), { f: 'after' }));
          const { history } = simulate(gen, { concurrency: 4, seed, respond: randomResponses(5 * MS, 0, 0.1) });
          const start = Math.max(
            ...completions(history)
              .filter((o) => o.f === 'read')
              .map((o) => o.time),
          );
          const writes = invokes(history).filter((o) => o.f === 'write');
          expect(writes.length).toBeGreaterThan(0);
          for (const w of writes) expect(w.time >= start && w.time < start + lim).toBe(true);
          const after = invokes(history).find((o) => o.f === 'after');
          expect(after).toBeDefined();
          expect(after!.time).toBeGreaterThanOrEqual(
            Math.max(
              ...completions(history)
                .filter((o) => o.f === 'write')
                .map((o) => o.time),
            ),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('phases: no op of a phase is invoked before every op of the previous phase completed', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 5 }),
        seedArb,
        fc.integer({ min: 1, max: 6 }),
        (sizes, seed, concurrency) => {
          const gen = clients(
            phases(
              ...sizes.map((n, i) =>
                limit(
                  n,
                  fromFn(() => ({ f: `p${i}` })),
                ),
              ),
            ),
          );
          const { history } = simulate(gen, { concurrency, seed, respond: randomResponses(4 * MS, 0.2, 0.2) });
          let lastDone = -1;
          sizes.forEach((n, i) => {
            const events = history.filter((o) => o.f === `p${i}`);
            expect(events.filter((o) => o.type === 'invoke')).toHaveLength(n);
            if (n === 0) return;
            expect(Math.min(...events.map((o) => o.index))).toBeGreaterThan(lastDone);
            lastDone = Math.max(...events.map((o) => o.index));
          });
        },
      ),
      { numRuns: 80 },
    );
  });

  it('stagger: intervals average dt and never reach 2·dt while workers are free', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10_000, max: 50 * MS }), seedArb, fc.integer({ min: 1, max: 10 }), (dt, seed, concurrency) => {
        const n = 2000;
        // Ops complete at once, so the stagger alone sets the pace.
        const { history } = simulate(clients(limit(n, stagger(dt, build({ leaf: 'read' })))), { concurrency, seed, respond: () => ({ latencyNs: 0 }) });
        const times = invokes(history).map((o) => o.time);
        const gaps = times.slice(1).map((t, i) => t - times[i]);
        const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
        // Uniform on [0, 2dt): the mean of 1999 gaps has sd dt/sqrt(3·1999) ≈ 0.013·dt.
        expect(Math.abs(mean - dt) / dt).toBeLessThan(0.07);
        expect(Math.max(...gaps)).toBeLessThan(2 * dt);
        expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 20 },
    );
  });
});
