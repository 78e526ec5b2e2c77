// Which workers a generator serves: clients only, the nemesis only, both (each
// side its own generator), or a separate copy per worker or per process.

import type { Op, Process } from '../../../history/types.js';
import { NEMESIS } from '../../../history/types.js';
import { empty, pending, toGen } from './basic.js';
import { only, restrict } from './context.js';
import { any, soonest } from './control.js';
import { EXHAUSTED, threadOf, type GenLike, type Generator, type Step, type Thread } from './types.js';

/**
 * The generator sees only the workers `allowed` accepts, and only their
 * events. (Jepsen's on-threads.)
 */
export function onThreads(allowed: (t: Thread) => boolean, g: GenLike): Generator {
  const gen = toGen(g);
  return {
    op(ctx) {
      const step = gen.op(restrict(ctx, allowed));
      if (step.kind === 'op') return { kind: 'op', op: step.op, next: onThreads(allowed, step.next) };
      return step.kind === 'pending' ? pending(onThreads(allowed, step.next), step.wakeAt) : step;
    },
    update(ctx, event) {
      return allowed(threadOf(ctx, event.process)) ? onThreads(allowed, gen.update(restrict(ctx, allowed), event)) : this;
    },
  };
}

const isClient = (t: Thread) => t !== NEMESIS;
const isNemesis = (t: Thread) => t === NEMESIS;

/** Only client workers (numeric processes) run this generator's ops. */
export function clients(g: GenLike): Generator {
  return onThreads(isClient, g);
}

/** Only the nemesis worker runs this generator's ops. */
export function nemesis(g: GenLike): Generator {
  return onThreads(isNemesis, g);
}

/** Client ops from one generator and nemesis ops from another, side by side. */
export function clientsAndNemesis(clientGen: GenLike, nemesisGen: GenLike): Generator {
  return any(clients(clientGen), nemesis(nemesisGen));
}

/**
 * A separate copy of the generator for every worker (Jepsen's each-thread):
 * each copy sees one worker, keeps its state when the worker's process is
 * retired, and is exhausted only when every copy is.
 */
export function eachThread(g: GenLike): Generator {
  return eachFrom(toGen(g), new Map(), false);
}

/**
 * A fresh copy for every process (Jepsen's classic `each`): when a worker's
 * process is retired after an `info`, its replacement starts over. Beware
 * `eachProcess(once(x))` under timeouts: every new process does x again.
 */
export function eachProcess(g: GenLike): Generator {
  return eachFrom(toGen(g), new Map(), true);
}

interface Copy {
  process: Process;
  gen: Generator;
}

function eachFrom(fresh: Generator, copies: ReadonlyMap<Thread, Copy>, perProcess: boolean): Generator {
  const copyFor = (thread: Thread, process: Process): Generator => {
    const copy = copies.get(thread);
    return copy && (!perProcess || copy.process === process) ? copy.gen : fresh;
  };
  return {
    op(ctx) {
      const threads: Thread[] = [];
      const steps: Step[] = [];
      for (const process of ctx.freeProcesses) {
        const thread = threadOf(ctx, process);
        threads.push(thread);
        steps.push(copyFor(thread, process).op(only(ctx, thread, process, true)));
      }
      const next = new Map(copies);
      let wakeAt = Infinity;
      let anyPending = false;
      for (let i = 0; i < steps.length; i++) {
        const s = steps[i];
        if (s.kind === 'pending') {
          anyPending = true;
          if (s.wakeAt !== undefined) wakeAt = Math.min(wakeAt, s.wakeAt);
          next.set(threads[i], { process: ctx.workers.get(threads[i]) as Process, gen: s.next });
        } else if (s.kind === 'exhausted') {
          next.set(threads[i], { process: ctx.workers.get(threads[i]) as Process, gen: empty });
        }
      }
      const best = soonest(steps, ctx);
      if (best >= 0) {
        const step = steps[best] as Extract<Step, { kind: 'op' }>;
        if (step.op.time <= wakeAt) {
          next.set(threads[best], { process: step.op.process, gen: step.next });
          return { kind: 'op', op: step.op, next: eachFrom(fresh, next, perProcess) };
        }
      }
      // A busy worker may still have ops to come once it is free again.
      if (anyPending || best >= 0 || ctx.freeProcesses.length < ctx.workers.size) {
        return pending(eachFrom(fresh, next, perProcess), wakeAt === Infinity ? undefined : wakeAt);
      }
      return EXHAUSTED;
    },
    update(ctx, event: Op) {
      const thread = threadOf(ctx, event.process);
      if (!ctx.workers.has(thread)) return this;
      const gen = copyFor(thread, event.process).update(only(ctx, thread, event.process, ctx.freeProcesses.includes(event.process)), event);
      return eachFrom(fresh, new Map(copies).set(thread, { process: event.process, gen }), perProcess);
    },
  };
}
