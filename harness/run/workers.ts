// The worker pool: runs a generator's ops against the system through clients
// (one per process) and the nemesis, recording every invocation and
// completion as it happens.
//
// Outcomes follow Jepsen. A client's own answer is recorded as given. A
// timeout completes the op as `info` with error "timed-out" (its signal is
// aborted; it may still take effect later), and a thrown error (a lost
// connection, a bug in the client) as `info` with the error's message: we do
// not know whether the op happened, and say so rather than guess. After an
// `info` the process is retired: its client is closed and the worker goes on
// as a fresh process (id + concurrency) with a fresh client. A client that
// cannot even open never sent the op, which therefore certainly did not
// happen: `fail`.

import { NEMESIS } from '../../history/types.js';
import type { Client, ClientResult, Nemesis } from '../core/client.js';
import { Scheduler } from '../core/generator/scheduler.js';
import type { GenLike, Invocation } from '../core/generator/types.js';
import type { EventFields, Recorder } from '../core/recorder.js';

export interface WorkerPoolOptions {
  generator: GenLike;
  concurrency: number;
  seed: number;
  /** Process p talks to nodes[(p mod concurrency) mod nodes.length]. */
  nodes: readonly string[];
  /** A new, unopened client for a process. */
  newClient: (process: number) => Client;
  nemesis?: Nemesis;
  recorder: Recorder;
  opTimeoutMs: number;
  /** Default 60 s: faults such as a restart can take a while. */
  nemesisTimeoutMs?: number;
  /** Aborting it stops invoking new ops; the ones under way still complete. */
  stop?: AbortSignal;
}

export interface RunSummary {
  ok: number;
  fail: number;
  info: number;
  nemesis: number;
  /** True when `stop` ended the run before the generator did. */
  stopped: boolean;
  /** Failures closing clients or tearing down the nemesis, which no op can carry. */
  errors: string[];
}

interface Session {
  process: number;
  client: Client;
  opened: Promise<void> | undefined;
}

class OpenError extends Error {}

export const TIMED_OUT = 'timed-out';

/**
 * The completion event of `op` answered with `r`. A client op of unknown outcome keeps its
 * invocation's value (what it tried to do); a nemesis op's value says what the fault did.
 */
export function completionFields(op: Invocation, r: ClientResult): EventFields {
  const fields: EventFields = {
    type: r.type,
    f: op.f,
    value: r.type !== 'info' || op.process === NEMESIS ? (r.value !== undefined ? r.value : op.value) : op.value,
    process: op.process,
  };
  if (op.key !== undefined) fields.key = op.key;
  if (r.error !== undefined) fields.error = r.error;
  return fields;
}

export async function runWorkers(o: WorkerPoolOptions): Promise<RunSummary> {
  if (o.nodes.length === 0) throw new RangeError('runWorkers needs at least one node');
  const scheduler = new Scheduler(o.generator, { concurrency: o.concurrency, seed: o.seed });
  const recorder = o.recorder;
  const summary: RunSummary = { ok: 0, fail: 0, info: 0, nemesis: 0, stopped: false, errors: [] };
  const sessions = new Map<number, Session>();
  const closing: Promise<void>[] = [];
  const waker = new Waker();
  // A failure of the harness itself inside a completion (say, the disk is
  // full): the loop rethrows it.
  const harness: { failure?: { error: unknown } } = {};
  const rethrow = () => {
    if (harness.failure) throw harness.failure.error;
  };

  const closeSession = (s: Session) => {
    closing.push(s.client.close().catch((e) => void summary.errors.push(`closing the client of process ${s.process}: ${message(e)}`)));
  };

  const runClientOp = (op: Invocation): Promise<ClientResult> => {
    const process = op.process as number;
    const thread = process % o.concurrency;
    let s = sessions.get(thread);
    if (!s || s.process !== process) {
      if (s) closeSession(s);
      s = { process, client: o.newClient(process), opened: undefined };
      sessions.set(thread, s);
    }
    const session = s;
    const node = o.nodes[thread % o.nodes.length];
    const controller = new AbortController();
    const outcome = (async () => {
      session.opened ??= session.client.open(node).catch((e) => {
        session.opened = undefined; // the next op tries again
        throw new OpenError(`cannot open a client to ${node}: ${message(e)}`);
      });
      await session.opened;
      return checkResult(await session.client.invoke(op, controller.signal));
    })();
    return withTimeout(outcome, o.opTimeoutMs, controller, (e) =>
      e instanceof OpenError ? { type: 'fail', error: e.message } : { type: 'info', error: message(e) },
    );
  };

  const runNemesisOp = (op: Invocation): Promise<ClientResult> => {
    if (!o.nemesis) return Promise.resolve({ type: 'info', error: 'no nemesis is configured for this test' });
    const nemesis = o.nemesis;
    // Through a promise, so that a nemesis throwing before it returns one is an outcome too.
    const outcome = Promise.resolve()
      .then(() => nemesis.invoke(op))
      .then((r): ClientResult => ({ type: 'info', value: r?.value }));
    return withTimeout(outcome, o.nemesisTimeoutMs ?? 60_000, new AbortController(), (e) => ({ type: 'info', error: message(e) }));
  };

  const complete = (op: Invocation, r: ClientResult) => {
    try {
      const event = recorder.record(completionFields(op, r));
      scheduler.completed(event);
      if (op.process === NEMESIS) summary.nemesis++;
      else {
        summary[r.type]++;
        if (r.type === 'info') {
          const thread = (op.process as number) % o.concurrency;
          const s = sessions.get(thread);
          if (s && s.process === op.process) {
            sessions.delete(thread);
            closeSession(s);
          }
        }
      }
    } catch (error) {
      harness.failure ??= { error };
    }
    waker.wake();
  };

  const start = (op: Invocation) => {
    const fields: EventFields = { type: 'invoke', f: op.f, value: op.value, process: op.process };
    if (op.key !== undefined) fields.key = op.key;
    scheduler.invoked(recorder.record(fields));
    (op.process === NEMESIS ? runNemesisOp(op) : runClientOp(op)).then((r) => complete(op, r));
  };

  try {
    for (;;) {
      rethrow();
      if (o.stop?.aborted) {
        summary.stopped = !scheduler.exhausted;
        break;
      }
      const now = recorder.now();
      const poll = scheduler.poll(now);
      if (poll.kind === 'invoke') {
        start(poll.op);
        continue;
      }
      if (poll.kind === 'done') break;
      if (poll.until === undefined && scheduler.outstanding === 0) {
        throw new Error('the generator is pending with no op outstanding and no time to wake: it can never go on');
      }
      await waker.wait(poll.until === undefined ? undefined : (poll.until - now) / 1e6, o.stop);
    }
    while (scheduler.outstanding > 0) {
      rethrow();
      await waker.wait(undefined, undefined);
    }
    rethrow();
  } finally {
    for (const s of sessions.values()) closeSession(s);
    sessions.clear();
    await Promise.all(closing);
    if (o.nemesis) await o.nemesis.teardown().catch((e) => void summary.errors.push(`tearing down the nemesis: ${message(e)}`));
  }
  return summary;
}

/** The outcome, or `info` timed-out after `ms` (aborting `controller`); a rejection becomes `onError`'s result. */
export function withTimeout(
  outcome: Promise<ClientResult>,
  ms: number,
  controller: AbortController,
  onError: (e: unknown) => ClientResult,
): Promise<ClientResult> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      controller.abort();
      resolve({ type: 'info', error: TIMED_OUT });
    }, ms);
    outcome.then(
      (r) => {
        clearTimeout(timer);
        resolve(r);
      },
      (e) => {
        clearTimeout(timer);
        resolve(onError(e));
      },
    );
  });
}

/** A client that answers something else than a result has a bug; we cannot tell what happened. */
export function checkResult(r: ClientResult): ClientResult {
  if (r && (r.type === 'ok' || r.type === 'fail' || r.type === 'info')) return r;
  throw new Error(`the client returned ${JSON.stringify(r) ?? String(r)}, not {type: ok|fail|info}`);
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message || e.name : String(e);
}

/** Lets the loop sleep until a completion, a time, or a stop, whichever comes first. */
class Waker {
  private resolve: (() => void) | undefined;

  wake(): void {
    this.resolve?.();
  }

  wait(ms: number | undefined, stop: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        stop?.removeEventListener('abort', done);
        this.resolve = undefined;
        resolve();
      };
      this.resolve = done;
      if (ms !== undefined) timer = setTimeout(done, Math.max(1, Math.ceil(ms)));
      stop?.addEventListener('abort', done, { once: true });
    });
  }
}
