// Combinators that decide which generator goes next and how long a generator
// lasts: limit, cycle, any, mix, synchronize, phases, untilOk.

import type { Process } from '../../../history/types.js';
import { empty, pending, toGen, withNext } from './basic.js';
import { withRandom } from './context.js';
import { Random } from './random.js';
import { EXHAUSTED, type Context, type GenLike, type Generator, type Step } from './types.js';

/** At most `n` ops from the generator. */
export function limit(n: number, g: GenLike): Generator {
  const gen = toGen(g);
  if (n <= 0) return empty;
  return {
    op(ctx) {
      const step = gen.op(ctx);
      if (step.kind === 'op') return { kind: 'op', op: step.op, next: limit(n - 1, step.next) };
      return step.kind === 'pending' ? withNext(step, limit(n, step.next)) : step;
    },
    update(ctx, event) {
      return limit(n, gen.update(ctx, event));
    },
  };
}

/**
 * The generator from its start again each time it is exhausted, `times` runs
 * in all (forever by default). A generator with nothing in it ends the cycle
 * rather than spinning.
 */
export function cycle(g: GenLike, times = Infinity): Generator {
  const original = toGen(g);
  return times <= 0 ? empty : cycleFrom(original, original, times, true);
}

function cycleFrom(original: Generator, current: Generator, runs: number, fresh: boolean): Generator {
  return {
    op(ctx) {
      const step = current.op(ctx);
      if (step.kind !== 'exhausted') return withNext(step, cycleFrom(original, step.next, runs, false));
      if (fresh || runs <= 1) return EXHAUSTED;
      const again = original.op(ctx);
      if (again.kind === 'exhausted') return EXHAUSTED;
      return withNext(again, cycleFrom(original, again.next, runs - 1, false));
    },
    update(ctx, event) {
      return cycleFrom(original, current.update(ctx, event), runs, fresh);
    },
  };
}

/**
 * Ops from whichever generator has the soonest one (ties broken at random,
 * so no generator starves); events go to all. Pending while some generator is
 * pending and none has an op due before it might wake.
 */
export function any(...gs: GenLike[]): Generator {
  const gens = gs.map(toGen);
  if (gens.length === 0) return empty;
  if (gens.length === 1) return gens[0];
  return anyOf(gens);
}

function anyOf(gens: readonly Generator[]): Generator {
  return {
    op(ctx) {
      const steps = gens.map((g) => g.op(ctx));
      const best = soonest(steps, ctx);
      // Pending generators keep the state they reached (a sleep that started,
      // say) whatever happens to the others.
      const after = (chosen: number) => {
        const next: Generator[] = [];
        for (let i = 0; i < steps.length; i++) {
          const s = steps[i];
          if (s.kind === 'exhausted') continue;
          next.push(i === chosen || s.kind === 'pending' ? s.next : gens[i]);
        }
        return next.length === 1 ? next[0] : anyOf(next);
      };
      let wakeAt = Infinity;
      let anyPending = false;
      for (const s of steps) {
        if (s.kind !== 'pending') continue;
        anyPending = true;
        if (s.wakeAt !== undefined && s.wakeAt < wakeAt) wakeAt = s.wakeAt;
      }
      if (best >= 0) {
        const step = steps[best] as Extract<Step, { kind: 'op' }>;
        // A pending generator that wakes before this op is due must get its
        // chance first: wake then, and ask everyone again.
        if (step.op.time > wakeAt) return pending(after(-1), wakeAt);
        return { kind: 'op', op: step.op, next: after(best) };
      }
      if (!anyPending) return EXHAUSTED;
      return pending(after(-1), wakeAt === Infinity ? undefined : wakeAt);
    },
    update(ctx, event) {
      return anyOf(gens.map((g) => g.update(ctx, event)));
    },
  };
}

/** Index of the op step with the smallest time, a random one among equals; -1 if none. */
export function soonest(steps: readonly Step[], ctx: Context): number {
  let best = -1;
  let bestTime = Infinity;
  let ties = 0;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (s.kind !== 'op') continue;
    if (s.op.time < bestTime) {
      best = i;
      bestTime = s.op.time;
      ties = 1;
    } else if (s.op.time === bestTime) {
      // Reservoir sampling: the k-th equal replaces the choice with chance 1/k.
      ties++;
      if (ctx.random.int(ties) === 0) best = i;
    }
  }
  return best;
}

/**
 * Each op from one of the generators chosen uniformly at random; exhausted
 * ones drop out. A pending choice is pending, and the next ask chooses afresh.
 */
export function mix(gs: readonly GenLike[]): Generator {
  return mixOf(gs.map(toGen));
}

function mixOf(gens: readonly Generator[]): Generator {
  if (gens.length === 0) return empty;
  return {
    op(ctx) {
      let live = gens;
      while (live.length > 0) {
        const i = live.length === 1 ? 0 : ctx.random.int(live.length);
        const step = live[i].op(ctx);
        if (step.kind === 'exhausted') {
          live = live.filter((_, j) => j !== i);
          continue;
        }
        const next = live.slice();
        next[i] = step.next;
        return withNext(step, mixOf(next));
      }
      return EXHAUSTED;
    },
    update(ctx, event) {
      return mixOf(gens.map((g) => g.update(ctx, event)));
    },
  };
}

/** Waits until every worker the generator may use is idle, then is the generator. */
export function synchronize(g: GenLike): Generator {
  const gen = toGen(g);
  const self: Generator = {
    op(ctx) {
      return ctx.freeProcesses.length === ctx.workers.size ? gen.op(ctx) : { kind: 'pending', next: self };
    },
    update(ctx, event) {
      return synchronize(gen.update(ctx, event));
    },
  };
  return self;
}

/** Each generator in turn; each starts once every op of the one before has completed. */
export function phases(...gs: GenLike[]): Generator {
  return toGen(gs.map(synchronize));
}

/**
 * Ops from the generator until one of them completes `ok` (Jepsen's
 * until-ok), e.g. retrying a final read through timeouts.
 */
export function untilOk(g: GenLike): Generator {
  return untilOkFrom(toGen(g), new Set());
}

function untilOkFrom(gen: Generator, active: ReadonlySet<Process>): Generator {
  return {
    op(ctx) {
      const step = gen.op(ctx);
      if (step.kind === 'op') return { kind: 'op', op: step.op, next: untilOkFrom(step.next, new Set(active).add(step.op.process)) };
      return step.kind === 'pending' ? withNext(step, untilOkFrom(step.next, active)) : step;
    },
    update(ctx, event) {
      const next = gen.update(ctx, event);
      if (event.type === 'invoke' || !active.has(event.process)) return untilOkFrom(next, active);
      if (event.type === 'ok') return empty;
      const rest = new Set(active);
      rest.delete(event.process);
      return untilOkFrom(next, rest);
    },
  };
}

/**
 * `g` with a random stream of its own, seeded by `seed`: its draws no longer
 * depend on how many draws other generators made before it. The scheduler's
 * one stream is shared by every generator in a test, and how many client ops
 * were asked for before a fault depends on timing; so a fault schedule drawn
 * from it would pick other kinds and targets on every run of the same seed.
 * Its own stream pins them (the timing still varies).
 */
export function ownRandom(seed: number, g: GenLike): Generator {
  return ownRandomFrom(Random.seeded(seed), toGen(g));
}

function ownRandomFrom(random: Random, gen: Generator): Generator {
  const self: Generator = {
    op(ctx) {
      // A clone per ask, kept with the step: as in the scheduler, a step that is thrown away takes its draws with it.
      const r = random.clone();
      const step = gen.op(withRandom(ctx, r));
      return step.kind === 'exhausted' ? step : { ...step, next: ownRandomFrom(r, step.next) };
    },
    update(ctx, event) {
      const next = gen.update(withRandom(ctx, random.clone()), event);
      return next === gen ? self : ownRandomFrom(random, next);
    },
  };
  return self;
}
