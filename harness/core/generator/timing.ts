// Time: when ops happen (stagger, delay), how long a generator lasts
// (timeLimit), and pauses (sleep). Times are nanoseconds since the test's
// start, read from the context, never from a clock, so a simulated clock
// drives them exactly as a real one does.

import { pending, toGen, withNext } from './basic.js';
import { EXHAUSTED, type GenLike, type Generator } from './types.js';

/**
 * Ops at random intervals, uniform in [0, 2·dt), so dt apart on average,
 * across all workers together (Jepsen's stagger: a total rate of 1/dt, not
 * per worker). Intervals count from when each op was due, not from when the
 * previous one completed, so slow ops do not lower the rate.
 */
export function stagger(dtNs: number, g: GenLike): Generator {
  return staggerFrom(dtNs, toGen(g), undefined);
}

function staggerFrom(dt: number, gen: Generator, nextTime: number | undefined): Generator {
  return {
    op(ctx) {
      const step = gen.op(ctx);
      if (step.kind === 'exhausted') return step;
      if (step.kind === 'pending') return withNext(step, staggerFrom(dt, step.next, nextTime));
      const time = Math.max(step.op.time, nextTime ?? ctx.time);
      const op = time === step.op.time ? step.op : { ...step.op, time };
      return { kind: 'op', op, next: staggerFrom(dt, step.next, time + Math.floor(ctx.random.float() * 2 * dt)) };
    },
    update(ctx, event) {
      return staggerFrom(dt, gen.update(ctx, event), nextTime);
    },
  };
}

/**
 * Ops exactly dt apart (Jepsen's delay): the first at once, each next one dt
 * after the previous was due. A generator that falls behind catches up.
 */
export function delay(dtNs: number, g: GenLike): Generator {
  return delayFrom(dtNs, toGen(g), undefined);
}

function delayFrom(dt: number, gen: Generator, nextTime: number | undefined): Generator {
  return {
    op(ctx) {
      const step = gen.op(ctx);
      if (step.kind === 'exhausted') return step;
      if (step.kind === 'pending') return withNext(step, delayFrom(dt, step.next, nextTime));
      const time = Math.max(step.op.time, nextTime ?? step.op.time);
      const op = time === step.op.time ? step.op : { ...step.op, time };
      return { kind: 'op', op, next: delayFrom(dt, step.next, time + dt) };
    },
    update(ctx, event) {
      return delayFrom(dt, gen.update(ctx, event), nextTime);
    },
  };
}

/**
 * Ops from the generator for `limitNs` from the first time it is asked;
 * exhausted from then on, even if the generator had more.
 */
export function timeLimit(limitNs: number, g: GenLike): Generator {
  return timeLimitFrom(limitNs, toGen(g), undefined);
}

function timeLimitFrom(limit: number, gen: Generator, cutoff: number | undefined): Generator {
  return {
    op(ctx) {
      const end = cutoff ?? ctx.time + limit;
      if (ctx.time >= end) return EXHAUSTED;
      const step = gen.op(ctx);
      if (step.kind === 'exhausted') return step;
      if (step.kind === 'op') return step.op.time >= end ? EXHAUSTED : { kind: 'op', op: step.op, next: timeLimitFrom(limit, step.next, end) };
      // Wake at the cutoff at the latest, so that whoever waits for this
      // generator to end (phases) learns it has.
      return pending(timeLimitFrom(limit, step.next, end), Math.min(step.wakeAt ?? Infinity, end));
    },
    update(ctx, event) {
      return timeLimitFrom(limit, gen.update(ctx, event), cutoff);
    },
  };
}

/**
 * No ops for `dtNs`, counted from when every worker the sleep may use is idle
 * (inside `nemesis(...)`: from when the last fault op completed), then
 * exhausted. Unlike Jepsen's sleep it occupies no worker.
 */
export function sleep(dtNs: number): Generator {
  const waiting: Generator = {
    op(ctx) {
      if (ctx.freeProcesses.length < ctx.workers.size) return { kind: 'pending', next: waiting };
      return dtNs <= 0 ? EXHAUSTED : pending(sleepingUntil(ctx.time + dtNs), ctx.time + dtNs);
    },
    update: () => waiting,
  };
  return waiting;
}

function sleepingUntil(until: number): Generator {
  const self: Generator = {
    op: (ctx) => (ctx.time >= until ? EXHAUSTED : pending(self, until)),
    update: () => self,
  };
  return self;
}
