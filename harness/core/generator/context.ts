// Contexts are made for every ask and every event, and most generators look
// at no more than the time: the worker map and the free list are therefore
// computed on first use, and a restricted context (clients only, one worker)
// filters its parent's only when someone asks. With 100 workers, building
// them eagerly was most of the harness's time per op.

import type { Process } from '../../../history/types.js';
import type { Random } from './random.js';
import { threadOf, type Context, type Thread } from './types.js';

class LazyContext implements Context {
  private workersCache: ReadonlyMap<Thread, Process> | undefined;
  private freeCache: readonly Process[] | undefined;

  constructor(
    readonly time: number,
    readonly concurrency: number,
    readonly random: Random,
    private readonly computeWorkers: () => ReadonlyMap<Thread, Process>,
    private readonly computeFree: () => readonly Process[],
  ) {}

  get workers(): ReadonlyMap<Thread, Process> {
    return (this.workersCache ??= this.computeWorkers());
  }

  get freeProcesses(): readonly Process[] {
    return (this.freeCache ??= this.computeFree());
  }
}

export function makeContext(
  time: number,
  concurrency: number,
  random: Random,
  workers: () => ReadonlyMap<Thread, Process>,
  freeProcesses: () => readonly Process[],
): Context {
  return new LazyContext(time, concurrency, random, workers, freeProcesses);
}

/** The context as seen by a generator restricted to the workers `allowed` accepts. */
export function restrict(ctx: Context, allowed: (t: Thread) => boolean): Context {
  return new LazyContext(
    ctx.time,
    ctx.concurrency,
    ctx.random,
    () => {
      const workers = new Map<Thread, Process>();
      for (const [t, p] of ctx.workers) if (allowed(t)) workers.set(t, p);
      return workers;
    },
    () => ctx.freeProcesses.filter((p) => allowed(threadOf(ctx, p))),
  );
}

/** The context of one worker: itself, free or not. */
export function only(ctx: Context, thread: Thread, process: Process, free: boolean): Context {
  return new LazyContext(
    ctx.time,
    ctx.concurrency,
    ctx.random,
    () => new Map([[thread, process]]),
    () => (free ? [process] : []),
  );
}

/** The same context drawing from `random` (a generator with a stream of its own). */
export function withRandom(ctx: Context, random: Random): Context {
  return new LazyContext(
    ctx.time,
    ctx.concurrency,
    random,
    () => ctx.workers,
    () => ctx.freeProcesses,
  );
}
