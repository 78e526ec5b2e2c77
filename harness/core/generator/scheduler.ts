// Runs a generator against a set of workers, without doing any I/O: the
// worker pool (real time, real clients) and the simulator (virtual time,
// scripted responses) both drive this, so what a generator does under
// simulation is what it does in a test. Jepsen's interpreter, minus threads.
//
// Protocol: `poll(now)` answers with an op to invoke now (its worker is then
// busy), a time to wait until (or until the next completion), or done. The
// caller records the invocation and reports it with `invoked`, and later
// reports the completion with `completed`.

import type { Op, Process } from '../../../history/types.js';
import { NEMESIS } from '../../../history/types.js';
import { toGen } from './basic.js';
import { makeContext } from './context.js';
import { Random } from './random.js';
import { threadOf, type Context, type GenLike, type Generator, type Invocation, type Thread } from './types.js';

export interface SchedulerOptions {
  /** Client workers; processes 0 .. concurrency-1 to begin with. */
  concurrency: number;
  seed: number;
}

export type Poll =
  | { kind: 'invoke'; op: Invocation }
  /** Nothing to do before `until` (undefined: before the next completion). */
  | { kind: 'wait'; until?: number }
  /** The generator is exhausted; ops may still be outstanding. */
  | { kind: 'done' };

export class Scheduler {
  readonly concurrency: number;
  private gen: Generator | undefined;
  private readonly random: Random;
  private readonly workers = new Map<Thread, Process>();
  private readonly busy = new Set<Thread>();
  // The free processes, kept up to date rather than rebuilt for every ask
  // (an O(workers) scan per op dominated at 100 workers). Order is by
  // swap-removal: arbitrary but deterministic, which is all fillIn needs.
  private readonly free: Process[] = [];
  private readonly freeAt = new Map<Thread, number>();

  constructor(generator: GenLike, opts: SchedulerOptions) {
    if (!(Number.isSafeInteger(opts.concurrency) && opts.concurrency >= 1)) {
      throw new RangeError(`concurrency must be an integer >= 1, got ${opts.concurrency}`);
    }
    this.concurrency = opts.concurrency;
    this.gen = toGen(generator);
    this.random = Random.seeded(opts.seed);
    for (let t = 0; t < opts.concurrency; t++) this.workers.set(t, t);
    this.workers.set(NEMESIS, NEMESIS);
    for (const [thread, process] of this.workers) this.markFree(thread, process);
  }

  /** Ops invoked and not yet completed. */
  get outstanding(): number {
    return this.busy.size;
  }

  get exhausted(): boolean {
    return this.gen === undefined;
  }

  /** The process a worker runs as now. */
  processOf(thread: Thread): Process {
    return this.workers.get(thread) as Process;
  }

  poll(now: number): Poll {
    if (!this.gen) return { kind: 'done' };
    // The generator draws from a copy: if its answer is thrown away (an op
    // for later), so are its draws, and asking again gives the same answer.
    const ctx = this.context(now, this.random.clone());
    const step = this.gen.op(ctx);
    switch (step.kind) {
      case 'exhausted':
        this.gen = undefined;
        return { kind: 'done' };
      case 'pending':
        this.gen = step.next;
        this.random.copyFrom(ctx.random);
        return { kind: 'wait', until: step.wakeAt };
      case 'op': {
        if (step.op.time > now) return { kind: 'wait', until: step.op.time };
        const thread = threadOf(this, step.op.process);
        if (this.workers.get(thread) !== step.op.process || this.busy.has(thread)) {
          throw new Error(`generator bug: op ${step.op.f} for process ${String(step.op.process)}, which is not a free process`);
        }
        this.gen = step.next;
        this.random.copyFrom(ctx.random);
        this.busy.add(thread);
        this.markBusy(thread);
        return { kind: 'invoke', op: step.op };
      }
    }
  }

  /** The invocation of an op from `poll`, as recorded. */
  invoked(event: Op): void {
    if (this.gen) this.gen = this.gen.update(this.context(event.time, this.random), event);
  }

  /**
   * The completion of an op, as recorded. The worker is free again; after an
   * `info` a client worker's process is retired (its op may still be running
   * or may have taken effect) and process + concurrency takes its place.
   */
  completed(event: Op): void {
    const thread = threadOf(this, event.process);
    if (this.workers.get(thread) !== event.process || !this.busy.delete(thread)) {
      throw new Error(`completion for process ${String(event.process)}, which has no op outstanding`);
    }
    this.markFree(thread, event.process);
    // The generator sees the event with the worker still running as the
    // process that did the op, as in Jepsen.
    if (this.gen) this.gen = this.gen.update(this.context(event.time, this.random), event);
    if (event.type === 'info' && typeof event.process === 'number') {
      const successor = event.process + this.concurrency;
      this.workers.set(thread, successor);
      this.free[this.freeAt.get(thread) as number] = successor;
    }
  }

  private markFree(thread: Thread, process: Process): void {
    this.freeAt.set(thread, this.free.length);
    this.free.push(process);
  }

  private markBusy(thread: Thread): void {
    const i = this.freeAt.get(thread) as number;
    const last = this.free.pop() as Process;
    this.freeAt.delete(thread);
    if (i < this.free.length) {
      this.free[i] = last;
      this.freeAt.set(threadOf(this, last), i);
    }
  }

  private context(time: number, random: Random): Context {
    return makeContext(
      time,
      this.concurrency,
      random,
      () => this.workers,
      () => this.free,
    );
  }
}
