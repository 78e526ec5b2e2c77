// Runs a generator in virtual time against scripted responses: the same
// scheduler the worker pool uses, with a clock that jumps straight to the
// next thing that happens. For tests (determinism, timing semantics) and for
// previewing what a test's generator will do, in milliseconds.

import type { History, Value } from '../../../history/types.js';
import { NEMESIS } from '../../../history/types.js';
import { Recorder } from '../recorder.js';
import { Random } from './random.js';
import { Scheduler } from './scheduler.js';
import type { GenLike, Invocation } from './types.js';

export interface SimulatedResponse {
  /** Default ok. Nemesis ops always complete as info. */
  type?: 'ok' | 'fail' | 'info';
  /** The completion's value; the invocation's value when left out. */
  value?: Value;
  error?: Value;
  /** Time from invocation to completion. */
  latencyNs: number;
}

/** Scripts the system: how each op completes. `random` is a stream of its own, seeded from the seed. */
export type Responder = (op: Invocation, random: Random) => SimulatedResponse;

export interface SimulationOptions {
  concurrency: number;
  seed: number;
  /** Default: every op ok after a latency uniform in [0, 1 ms). */
  respond?: Responder;
  /** Invoke no more than this many ops (a guard for endless generators). */
  maxInvocations?: number;
  /** Invoke nothing at or after this time. */
  maxTimeNs?: number;
}

export interface Simulation {
  history: History;
  /** Why invoking stopped. Outstanding ops are always completed. */
  ended: 'exhausted' | 'max-invocations' | 'max-time';
  /** Virtual time at the end. */
  timeNs: number;
}

interface Pending {
  at: number;
  seq: number;
  op: Invocation;
  response: SimulatedResponse;
}

const defaultRespond: Responder = (_op, random) => ({ latencyNs: Math.floor(random.float() * 1e6) });

export function simulate(generator: GenLike, opts: SimulationOptions): Simulation {
  let now = 0;
  const recorder = new Recorder({ clock: () => BigInt(now) });
  const scheduler = new Scheduler(generator, { concurrency: opts.concurrency, seed: opts.seed });
  // A stream apart from the generator's (which is seeded with `seed` itself).
  const responseRandom = Random.seeded(-opts.seed - 1);
  const respond = opts.respond ?? defaultRespond;
  const maxInvocations = opts.maxInvocations ?? Infinity;
  const maxTime = opts.maxTimeNs ?? Infinity;
  const queue: Pending[] = [];
  let seq = 0;
  let invocations = 0;
  let ended: Simulation['ended'] | undefined;

  for (;;) {
    let next = Infinity;
    if (ended === undefined && invocations >= maxInvocations) ended = 'max-invocations';
    if (ended === undefined) {
      const poll = scheduler.poll(now);
      if (poll.kind === 'invoke') {
        const op = poll.op;
        const event = recorder.record({ type: 'invoke', f: op.f, value: op.value, process: op.process, ...(op.key !== undefined && { key: op.key }) });
        scheduler.invoked(event);
        const response = respond(op, responseRandom);
        queue.push({ at: now + Math.max(0, response.latencyNs), seq: seq++, op, response });
        invocations++;
        continue;
      }
      if (poll.kind === 'done') ended = 'exhausted';
      else if (poll.until !== undefined) {
        if (poll.until <= now) throw new Error(`generator bug: pending until ${poll.until} ns, which is not after now (${now} ns)`);
        next = poll.until;
      }
    }
    const first = earliest(queue);
    if (first >= 0) next = Math.min(next, queue[first].at);
    if (next === Infinity) {
      if (ended !== undefined) break;
      throw new Error(`generator is pending with nothing outstanding and no time to wake: it can never go on (at ${now} ns)`);
    }
    if (ended === undefined && next >= maxTime) {
      ended = 'max-time';
      continue;
    }
    now = Math.max(now, next);
    // Deliver every completion due by now, in time order (ties: invocation order).
    for (let i = earliest(queue); i >= 0 && queue[i].at <= now; i = earliest(queue)) {
      const [done] = queue.splice(i, 1);
      const { op, response } = done;
      const type = op.process === NEMESIS ? 'info' : (response.type ?? 'ok');
      const event = recorder.record({
        type,
        f: op.f,
        value: response.value !== undefined ? response.value : op.value,
        process: op.process,
        ...(op.key !== undefined && { key: op.key }),
        ...(response.error !== undefined && { error: response.error }),
      });
      scheduler.completed(event);
    }
  }
  return { history: recorder.history.slice(), ended: ended ?? 'exhausted', timeNs: now };
}

function earliest(queue: readonly Pending[]): number {
  let best = -1;
  for (let i = 0; i < queue.length; i++) {
    if (best < 0 || queue[i].at < queue[best].at || (queue[i].at === queue[best].at && queue[i].seq < queue[best].seq)) best = i;
  }
  return best;
}
