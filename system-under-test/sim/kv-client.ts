// The client library's logic (../client/kv-client.ts) in the simulated world:
// the same steps for one operation (the key's group; the group's
// configuration from the CM, cached under a lease counted from when the
// lookup was sent; the request to the primary with the configuration's
// version), the same retries (after a definite refusal, with the same
// back-off; reads also after an unanswered attempt of READ_ATTEMPT_MS) and the
// same honest outcomes (an update with no answer is `info`, never retried).
// Only the I/O differs: messages on the simulated network and timers in
// virtual time instead of sockets and setTimeout. It offers the KvClient
// methods the adapter's invokers call, so workloads map onto it unchanged.

import type { GroupConfig } from '../cm/state.js';
import { DEFINITE_FAILURES, KvOps, READ_ATTEMPT_MS, type KvOutcome } from '../client/kv-client.js';
import { isUpdate, keysOf } from '../pacifica/kv.js';
import { groupOf } from '../pacifica/placement.js';
import type { ClientOp, KvValue, PMessage } from '../pacifica/types.js';
import { CmCaller, type CmAnswer, type CmRequest, type Wire, type World } from './world.js';

type Reply = Extract<PMessage, { kind: 'reply' }>;

/**
 * A CM client in the simulated world (runtime/client.ts's CmClient: leader
 * hunting, a timeout): requests of the CM's own API, as the version-register
 * client makes them. No answer in time is an unknown outcome.
 */
export class SimCmClient {
  private readonly caller: CmCaller;

  constructor(
    private readonly world: World,
    private readonly id: string,
    private readonly timeoutMs: number,
  ) {
    this.caller = new CmCaller(world, id, world.cmIds, (t, f) => world.at(t, f));
    world.endpoint(id, (w: Wire) => {
      if (w.kind === 'cm-ans') this.caller.answer(w.rid, w.ans);
    });
  }

  request(req: CmRequest): Promise<CmAnswer | { readonly ok: false; readonly error: string; readonly unknown: true }> {
    return new Promise((resolve) =>
      this.caller.request(req, this.timeoutMs, (a) => {
        this.world.clientOutcomes++;
        resolve(a ?? { ok: false, error: 'timeout', unknown: true });
      }),
    );
  }

  close(): void {
    this.world.dropEndpoint(this.id);
  }
}

export interface SimKvClientOptions {
  /** Give up after this long: `fail` if nothing could have happened, else `info`. */
  readonly timeoutMs: number;
  readonly configLeaseMs: number;
  readonly groups: number;
}

interface Cached {
  readonly config: GroupConfig;
  readonly until: number;
}

export class SimKvClient extends KvOps {
  private seq = 0;
  private readonly caller: CmCaller;
  private readonly configs = new Map<string, Cached>();
  private lookup: (() => void)[] | null = null;
  /** Waiting attempts by request id; null: the client closed. */
  private readonly pending = new Map<string, (r: Reply | null) => void>();
  private closed = false;

  constructor(
    private readonly world: World,
    private readonly id: string,
    private readonly o: SimKvClientOptions,
  ) {
    super();
    this.caller = new CmCaller(world, id, world.cmIds, (t, f) => world.at(t, f));
    world.endpoint(id, (w: Wire) => {
      if (w.kind === 'cm-ans') this.caller.answer(w.rid, w.ans);
      else if (w.kind === 'p' && w.env.msg.kind === 'reply') {
        const f = this.pending.get(w.env.msg.id);
        if (f === undefined) return; // an answer we stopped waiting for
        this.pending.delete(w.env.msg.id);
        f(w.env.msg);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.world.dropEndpoint(this.id);
    for (const f of this.pending.values()) f(null);
    this.pending.clear();
  }

  protected run(op: ClientOp, signal: AbortSignal | undefined): Promise<KvOutcome> {
    const w = this.world;
    const update = isUpdate(op);
    const deadline = w.now + this.o.timeoutMs;
    const keys = keysOf(op);
    if (keys.length === 0) return Promise.resolve({ type: 'fail', error: 'no keys' });
    const group = groupOf(keys[0], this.o.groups);
    if (keys.some((k) => groupOf(k, this.o.groups) !== group)) return Promise.resolve({ type: 'fail', error: 'keys-span-groups' });
    return new Promise<KvOutcome>((resolve) => {
      let lastError = 'unavailable';
      let unanswered = false;
      let attempt = 0;
      let done = false;
      const finish = (o: KvOutcome): void => {
        if (done) return;
        done = true;
        w.clientOutcomes++;
        resolve(o);
      };
      const giveUp = (): void => finish(unanswered ? { type: 'info', error: 'timeout' } : { type: 'fail', error: lastError });
      const again = (): void => {
        attempt++;
        if (this.closed) return finish({ type: 'info', error: 'closed' });
        if (signal?.aborted === true) return finish({ type: 'info', error: 'aborted' });
        // Backing off before asking again: the CM may be mid-reconfiguration.
        const pause = Math.min(100, 10 * 2 ** Math.min(attempt, 4));
        if (w.now + pause >= deadline) return giveUp();
        w.at(w.now + pause, go);
      };
      const go = (): void => {
        if (done) return;
        if (this.closed) return finish({ type: 'info', error: 'closed' });
        if (signal?.aborted === true) return finish({ type: 'info', error: 'aborted' });
        if (w.now >= deadline) return giveUp();
        this.config(group, deadline, (cached) => {
          if (done) return;
          if (cached === null) {
            lastError = 'cm-unavailable';
            return again();
          }
          if (w.refuses(cached.config.primary)) {
            // Nothing listens there (the process is down): the connection is refused, certainly not sent.
            this.invalidate(group, cached);
            lastError = 'connection-refused';
            return again();
          }
          const id = `${this.id}:${++this.seq}`;
          const left = deadline - w.now;
          const ms = update ? left : Math.min(left, READ_ATTEMPT_MS);
          let settled = false;
          const onAbort = (): void => {
            if (settled) return;
            settled = true;
            this.pending.delete(id);
            finish({ type: 'info', error: 'aborted' });
          };
          signal?.addEventListener('abort', onAbort, { once: true });
          const settle = (): boolean => {
            if (settled) return false;
            settled = true;
            signal?.removeEventListener('abort', onAbort);
            return true;
          };
          this.pending.set(id, (r) => {
            if (!settle()) return;
            if (r === null) return finish({ type: 'info', error: 'closed' });
            if (r.ok) return finish(r.value === undefined ? { type: 'ok' } : { type: 'ok', value: r.value as KvValue | Record<string, KvValue> });
            const error = r.error ?? 'refused';
            if (DEFINITE_FAILURES.has(error)) return finish({ type: 'fail', error });
            // not-primary, stale-version: not taken into any log; look the configuration up again.
            this.invalidate(group, cached);
            lastError = error;
            again();
          });
          w.send({
            kind: 'p',
            from: this.id,
            to: cached.config.primary,
            env: { from: this.id, to: cached.config.primary, msg: { kind: 'request', group, id, version: cached.config.version, op } },
          });
          w.at(w.now + ms, () => {
            if (!this.pending.delete(id) || !settle()) return;
            this.invalidate(group, cached);
            if (update) return finish({ type: 'info', error: 'timeout' });
            unanswered = true;
            again();
          });
        });
      };
      go();
    });
  }

  /** The group's configuration under a valid lease: cached, or looked up now (at most until `deadline`). */
  private config(group: string, deadline: number, then: (c: Cached | null) => void): void {
    const w = this.world;
    const valid = (): Cached | null => {
      const c = this.configs.get(group);
      return c !== undefined && w.now < c.until ? c : null;
    };
    const c = valid();
    if (c !== null) return then(c);
    let called = false;
    const once = (): void => {
      if (called) return;
      called = true;
      then(valid());
    };
    w.at(deadline, once);
    if (this.lookup !== null) {
      this.lookup.push(once);
      return;
    }
    const waiters = [once];
    this.lookup = waiters;
    // The lease counts from before the request left: the CM's answer can only be older than that.
    const sent = w.now;
    this.caller.request({ op: 'get' }, this.o.timeoutMs, (a) => {
      this.lookup = null;
      if (a !== null && a.ok && a.groups !== undefined)
        for (const [g, config] of Object.entries(a.groups)) this.configs.set(g, { config, until: sent + this.o.configLeaseMs });
      for (const f of waiters) f();
    });
  }

  private invalidate(group: string, stale: Cached): void {
    if (this.configs.get(group) === stale) this.configs.delete(group);
  }
}
