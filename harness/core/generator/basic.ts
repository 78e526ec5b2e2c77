// The building blocks: turning plain data into generators (an op spec is one
// op, an array is a sequence, a function makes generators on demand), and the
// transformations that keep a generator's shape (repeat, map, filter,
// onUpdate).

import type { Op } from '../../../history/types.js';
import { EXHAUSTED, type Context, type GenFn, type GenLike, type Generator, type Invocation, type OpSpec, type Step } from './types.js';

/** The generator that has nothing, ever. */
export const empty: Generator = Object.freeze({
  op: () => EXHAUSTED,
  update() {
    return empty;
  },
});

export function toGen(g: GenLike): Generator {
  if (g === null || g === undefined) return empty;
  if (typeof g === 'function') return fromFn(g);
  if (Array.isArray(g)) return sequence(g as readonly GenLike[]);
  if (typeof (g as Generator).op === 'function') return g as Generator;
  return once(g as OpSpec);
}

/** The same step, going on as `next`. */
export function withNext(step: Step, next: Generator): Step {
  switch (step.kind) {
    case 'op':
      return { kind: 'op', op: step.op, next };
    case 'pending':
      return step.wakeAt === undefined ? { kind: 'pending', next } : { kind: 'pending', next, wakeAt: step.wakeAt };
    default:
      return step;
  }
}

export function pending(next: Generator, wakeAt?: number): Step {
  return wakeAt === undefined ? { kind: 'pending', next } : { kind: 'pending', next, wakeAt };
}

/**
 * The spec as an invocation on one of the free processes (chosen at random, so
 * that no worker starves), or undefined when none is free.
 */
export function fillIn(spec: OpSpec, ctx: Context): Invocation | undefined {
  const free = ctx.freeProcesses;
  if (free.length === 0) return undefined;
  let process;
  if (spec.process !== undefined) {
    if (!free.includes(spec.process)) return undefined;
    process = spec.process;
  } else {
    process = free.length === 1 ? free[0] : free[ctx.random.int(free.length)];
  }
  const op: Invocation = { f: spec.f, value: spec.value ?? null, process, time: ctx.time };
  if (spec.key !== undefined) op.key = spec.key;
  return op;
}

/** One op, then exhausted. Waits (pending) while no process is free. */
export function once(spec: OpSpec): Generator {
  const self: Generator = {
    op(ctx) {
      const op = fillIn(spec, ctx);
      return op ? { kind: 'op', op, next: empty } : { kind: 'pending', next: self };
    },
    update: () => self,
  };
  return self;
}

/** Each generator until it is exhausted, then the next. Events go to the current one. */
export function sequence(gens: readonly GenLike[]): Generator {
  return sequenceFrom(gens.length > 0 ? toGen(gens[0]) : empty, gens, 1);
}

function sequenceFrom(head: Generator, rest: readonly GenLike[], from: number): Generator {
  if (from >= rest.length) return head;
  return {
    op(ctx) {
      let current = head;
      let i = from;
      for (;;) {
        const step = current.op(ctx);
        if (step.kind !== 'exhausted') return withNext(step, sequenceFrom(step.next, rest, i));
        if (i >= rest.length) return EXHAUSTED;
        current = toGen(rest[i++]);
      }
    },
    update(ctx, event) {
      return sequenceFrom(head.update(ctx, event), rest, from);
    },
  };
}

/**
 * Calls `fn` for a generator, runs it until exhausted, then calls `fn` again;
 * exhausted when `fn` returns null. A function that returns a generator with
 * nothing in it also ends the stream: calling it again would loop forever.
 */
export function fromFn(fn: GenFn): Generator {
  const self: Generator = {
    op(ctx) {
      const made = fn(ctx);
      if (made === null || made === undefined) return EXHAUSTED;
      const step = toGen(made).op(ctx);
      if (step.kind === 'exhausted') return EXHAUSTED;
      return withNext(step, sequenceFrom(step.next, [self], 0));
    },
    update: () => self,
  };
  return self;
}

/**
 * The generator's next op, over and over (`times` ops, or forever): each time
 * from the generator as it was, so `repeat({f: 'read'})` reads forever.
 * Updates are passed on.
 */
export function repeat(g: GenLike, times = Infinity): Generator {
  const gen = toGen(g);
  if (times <= 0) return empty;
  return {
    op(ctx) {
      const step = gen.op(ctx);
      if (step.kind === 'op') return { kind: 'op', op: step.op, next: repeat(gen, times - 1) };
      // A pending step may carry state (a bound sleep); keep it.
      return step.kind === 'pending' ? withNext(step, repeat(step.next, times)) : step;
    },
    update(ctx, event) {
      return repeat(gen.update(ctx, event), times);
    },
  };
}

/** Every op passed through `f` (which must keep `process` and may move `time` only later). */
export function map(f: (op: Invocation, ctx: Context) => Invocation, g: GenLike): Generator {
  const gen = toGen(g);
  return {
    op(ctx) {
      const step = gen.op(ctx);
      if (step.kind === 'op') return { kind: 'op', op: f(step.op, ctx), next: map(f, step.next) };
      return step.kind === 'pending' ? withNext(step, map(f, step.next)) : step;
    },
    update(ctx, event) {
      return map(f, gen.update(ctx, event));
    },
  };
}

/** Only the ops for which `keep` holds; the others are skipped. */
export function filter(keep: (op: Invocation) => boolean, g: GenLike): Generator {
  const gen = toGen(g);
  return {
    op(ctx) {
      let current = gen;
      for (;;) {
        const step = current.op(ctx);
        if (step.kind === 'op' && !keep(step.op)) {
          current = step.next;
          continue;
        }
        return step.kind === 'exhausted' ? step : withNext(step, filter(keep, step.next));
      }
    },
    update(ctx, event) {
      return filter(keep, gen.update(ctx, event));
    },
  };
}

/**
 * Feedback (Jepsen's `on-update`): on every event, `react(inner, ctx, event)`
 * returns the generator to continue with (pass the event on with
 * `inner.update(ctx, event)` if the inner generator should see it too).
 */
export function onUpdate(g: GenLike, react: (inner: Generator, ctx: Context, event: Op) => GenLike): Generator {
  const gen = toGen(g);
  return {
    op(ctx) {
      const step = gen.op(ctx);
      return step.kind === 'exhausted' ? step : withNext(step, onUpdate(step.next, react));
    },
    update(ctx, event) {
      return onUpdate(toGen(react(gen, ctx, event)), react);
    },
  };
}
