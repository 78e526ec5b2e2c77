// Generators, after Jepsen's pure generators (jepsen.generator): a generator
// is an immutable value with two functions. `op(ctx)` says what it would do
// next: invoke an op (and the generator it becomes if that op is taken), wait
// ("pending": nothing yet, ask again after the next event or at `wakeAt`), or
// nothing ever again (exhausted). `update(ctx, event)` returns the generator
// that results from an invocation or completion happening, which is how a
// generator reacts to what the system did.
//
// Because generators are values, asking is free of side effects: the runner
// may ask, look at an op planned for the future, throw the answer away and ask
// again later. The one impure input is `ctx.random`; the runner hands each ask
// a copy and keeps its draws only when it keeps the answer, so a discarded
// answer leaves no trace and the same seed replays the same choices.

import type { Key, Op, Process, Value } from '../../../history/types.js';
import { NEMESIS } from '../../../history/types.js';
import type { Random } from './random.js';

/**
 * A worker: client workers are 0 .. concurrency-1, plus the nemesis worker.
 * Workers are fixed for a test; the process a client worker runs as changes
 * whenever its op ends `info` (Jepsen's threads and processes).
 */
export type Thread = number | typeof NEMESIS;

/** What a generator may know when asked. Valid only during the call it is passed to. */
export interface Context {
  /** Nanoseconds since the test started. */
  readonly time: number;
  /** Number of client workers: process p runs on worker p mod concurrency. */
  readonly concurrency: number;
  /** The workers this generator may use, each with the process it runs as now. */
  readonly workers: ReadonlyMap<Thread, Process>;
  /** Processes whose worker is idle, among `workers`. */
  readonly freeProcesses: readonly Process[];
  readonly random: Random;
}

/** An op a generator wants invoked. */
export interface Invocation {
  f: string;
  value: Value;
  key?: Key;
  process: Process;
  /** Earliest time (ns since start) to invoke it; may be in the future. */
  time: number;
}

/** What users write: an op to invoke once on some free process. */
export interface OpSpec {
  f: string;
  value?: Value;
  key?: Key;
  /** Pin the op to this process; by default any free process of the generator's workers. */
  process?: Process;
}

export type Step =
  | { readonly kind: 'op'; readonly op: Invocation; readonly next: Generator }
  | {
      readonly kind: 'pending';
      readonly next: Generator;
      /** Ask again at this time even if nothing else happens. */
      readonly wakeAt?: number;
    }
  | { readonly kind: 'exhausted' };

export interface Generator {
  op(ctx: Context): Step;
  /** `event` is an invocation or completion as recorded in the history. */
  update(ctx: Context, event: Op): Generator;
}

/**
 * Anything usable where a generator is expected, as in Jepsen: a generator, an
 * op spec (one op), an array (each element until exhausted, then the next),
 * a function (called for a generator, which is run to exhaustion, then the
 * function is called again), or null (nothing).
 */
export type GenLike = Generator | OpSpec | readonly GenLike[] | GenFn | null | undefined;
export type GenFn = (ctx: Context) => GenLike;

export const EXHAUSTED: Step = Object.freeze({ kind: 'exhausted' });

/** The worker that runs `process`. */
export function threadOf(ctx: { concurrency: number }, process: Process): Thread {
  return process === NEMESIS ? NEMESIS : process % ctx.concurrency;
}
