// The client library of the key-value store. For an operation on a key it:
//  1. finds the key's group (../pacifica/placement.ts: the same hash as the servers),
//  2. looks the group's configuration up from the CM and caches it under a
//     lease (Chubby-style: counted from when the lookup was sent, and used only
//     while it is valid; refreshed on expiry, on a not-primary/stale-version
//     reply and after a timeout); one lookup fetches every group's,
//  3. sends the request, carrying the configuration version, to the primary.
//
// Outcomes are honest, as a Jepsen history needs them: `ok`; `fail` only when
// the operation certainly did not take effect (a definite refusal: cas-mismatch,
// insufficient, not-primary, stale-version, or no attempt ever left); `info`
// when an update may or may not have happened (no reply in time, connection
// lost after sending, aborted while waiting). Only what certainly did not
// happen is retried within the timeout — and reads, which change nothing. An
// update whose fate is unknown is never retried blindly.

import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import type { GroupConfig } from '../cm/state.js';
import { isUpdate, keysOf } from '../pacifica/kv.js';
import { groupOf } from '../pacifica/placement.js';
import type { ClientOp, Envelope, KvValue, PMessage } from '../pacifica/types.js';
import { CmClient, type GetResponse } from '../runtime/client.js';
import { parseAddress } from '../runtime/transport.js';
import { FrameDecoder, encodeFrame } from '../wire/frame.js';

export type { KvValue };

export type KvOutcome =
  | { readonly type: 'ok'; readonly value?: KvValue | Record<string, KvValue> }
  | { readonly type: 'fail'; readonly error: string }
  | { readonly type: 'info'; readonly error: string };

export interface KvClientOptions {
  /** CM node addresses (HOST:PORT). */
  readonly cm: readonly string[];
  /** Give up after this long (default 2000 ms): `fail` if nothing could have happened, else `info`. */
  readonly timeoutMs?: number;
  /** How long a configuration looked up from the CM may be used (default 1000 ms). */
  readonly configLeaseMs?: number;
  /** The number of groups the keys hash over (default: as many as the CM holds, g0..gN-1). */
  readonly groups?: number;
}

type Reply = Extract<PMessage, { kind: 'reply' }>;
type Attempt =
  | { readonly kind: 'reply'; readonly reply: Reply }
  /** Certainly never reached a server. */
  | { readonly kind: 'not-sent'; readonly error: string }
  /** Sent, no answer: the outcome is unknown. */
  | { readonly kind: 'lost'; readonly error: string };

interface Pending {
  readonly deadline: number;
  readonly done: (a: Attempt) => void;
}

/** Definite refusals of an operation the replica ruled on (retrying would give the same answer). */
export const DEFINITE_FAILURES = new Set(['cas-mismatch', 'insufficient', 'not-a-number', 'bad-request']);
/** Read attempts are bounded so that a dead primary costs a read only this long before it asks again. */
export const READ_ATTEMPT_MS = 500;
/** How often waiting attempts are checked against their deadlines (one timer per client, only while some wait). */
const SWEEP_MS = 20;

/** One connection to a data server; replies are matched to requests by id. */
class DataConnection {
  private readonly socket: net.Socket;
  private readonly decoder = new FrameDecoder();
  readonly pending = new Map<string, Pending>();
  /** Requests of this tick, not yet written. */
  private readonly outbox: Envelope[] = [];
  readonly connected: Promise<boolean>;
  dead = false;

  constructor(address: string) {
    const a = parseAddress(address);
    this.socket = net.connect({ host: a.host, port: a.port });
    this.socket.setNoDelay(true);
    this.connected = new Promise((resolve) => {
      this.socket.once('connect', () => resolve(true));
      this.socket.once('error', () => resolve(false));
      this.socket.once('close', () => resolve(false));
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => this.fail('connection-lost'));
    this.socket.on('data', (chunk: Buffer) => {
      const { frames, error } = this.decoder.push(chunk);
      for (const f of frames) {
        const e = f.kind === 'json' ? (f.value as { e?: unknown }).e : undefined;
        if (!Array.isArray(e)) continue;
        for (const env of e as Envelope[]) {
          const m = env?.msg;
          if (m?.kind !== 'reply' || typeof m.id !== 'string') continue;
          const p = this.pending.get(m.id);
          if (p === undefined) continue; // an answer we stopped waiting for
          this.pending.delete(m.id);
          p.done({ kind: 'reply', reply: m });
        }
      }
      if (error !== null) this.socket.destroy();
    });
  }

  /**
   * Queue one request; false if the connection is not usable (nothing was sent). Requests
   * queued in one tick leave as one frame (one write), as the servers batch their replies:
   * concurrent callers of one client then cost one syscall per batch, not one per request.
   */
  write(env: Envelope): boolean {
    if (this.dead || this.socket.destroyed) return false;
    this.outbox.push(env);
    if (this.outbox.length === 1) process.nextTick(this.flush);
    return true;
  }

  private readonly flush = (): void => {
    if (this.outbox.length === 0) return;
    // Destroyed between the queueing and this tick (its 'close' comes later): nothing left, which fail()
    // reports as not sent.
    if (this.socket.destroyed) return this.fail('connection-lost');
    const e = this.outbox.splice(0);
    this.socket.write(encodeFrame({ kind: 'json', value: { e } }));
  };

  close(): void {
    this.socket.destroy();
    this.fail('closed');
  }

  private fail(error: string): void {
    this.dead = true;
    // Requests still in the outbox never reached the socket: certainly not done (a caller may retry them).
    for (const env of this.outbox.splice(0)) {
      const id = (env.msg as { id: string }).id;
      this.pending.get(id)?.done({ kind: 'not-sent', error });
      this.pending.delete(id);
    }
    // Written: the server may have acted on them.
    for (const p of this.pending.values()) p.done({ kind: 'lost', error });
    this.pending.clear();
  }
}

interface CachedConfig {
  readonly config: GroupConfig;
  /** The lease: usable while performance.now() < until. */
  readonly until: number;
}

/**
 * The key-value operations, each one ClientOp through `run`: the real client
 * (KvClient, over TCP) and the simulated one (sim/kv-client.ts) differ only there.
 */
export abstract class KvOps {
  protected abstract run(op: ClientOp, signal: AbortSignal | undefined): Promise<KvOutcome>;

  read(key: string, signal?: AbortSignal): Promise<KvOutcome> {
    return this.run({ f: 'read', key }, signal);
  }

  write(key: string, value: number | string, signal?: AbortSignal): Promise<KvOutcome> {
    return this.run({ f: 'write', key, value }, signal);
  }

  cas(key: string, from: number | string | null, to: number | string, signal?: AbortSignal): Promise<KvOutcome> {
    return this.run({ f: 'cas', key, from, to }, signal);
  }

  append(key: string, value: number | string, signal?: AbortSignal): Promise<KvOutcome> {
    return this.run({ f: 'append', key, value }, signal);
  }

  /** Move `amount` from one balance to another (absent = 0); both keys must share a group (use a {tag}). */
  transfer(from: string, to: string, amount: number, signal?: AbortSignal): Promise<KvOutcome> {
    return this.run({ f: 'transfer', from, to, amount }, signal);
  }

  /** Read several keys of one group at one commit point; the value is an object key -> value. */
  readMany(keys: readonly string[], signal?: AbortSignal): Promise<KvOutcome> {
    return this.run({ f: 'read-many', keys: [...keys] }, signal);
  }
}

export class KvClient extends KvOps {
  private readonly id = `client-${randomBytes(6).toString('hex')}`;
  private seq = 0;
  private readonly cm: CmClient;
  private readonly timeoutMs: number;
  private readonly leaseMs: number;
  private groups: number | undefined;
  private readonly configs = new Map<string, CachedConfig>();
  /** The configuration lookup in flight, if any. */
  private lookup: Promise<void> | null = null;
  private addresses: Record<string, string> = {};
  private readonly conns = new Map<string, DataConnection>();
  /** One timer sweeps every attempt's deadline (no timer per operation). */
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(o: KvClientOptions) {
    super();
    if (o.cm.length === 0) throw new Error('KvClient needs at least one CM address');
    this.timeoutMs = o.timeoutMs ?? 2000;
    this.leaseMs = o.configLeaseMs ?? 1000;
    this.groups = o.groups;
    this.cm = new CmClient(o.cm, { timeoutMs: this.timeoutMs, attemptMs: Math.min(700, this.timeoutMs) });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
    this.cm.close();
  }

  // ------------------------------------------------------------ one operation

  protected async run(op: ClientOp, signal: AbortSignal | undefined): Promise<KvOutcome> {
    const update = isUpdate(op);
    const deadline = performance.now() + this.timeoutMs;
    const keys = keysOf(op);
    if (keys.length === 0) return { type: 'fail', error: 'no keys' };
    let lastError = 'unavailable';
    /** A read attempt went unanswered (reads are retried; the final outcome is then unknown, not a refusal). */
    let unanswered = false;
    const giveUp = (): KvOutcome => (unanswered ? { type: 'info', error: 'timeout' } : { type: 'fail', error: lastError });
    for (let attempt = 0; ; attempt++) {
      if (this.closed) return { type: 'info', error: 'closed' };
      if (aborted(signal)) return { type: 'info', error: 'aborted' };
      if (attempt > 0) {
        // Backing off before asking again: the CM may be mid-reconfiguration.
        const pause = Math.min(100, 10 * 2 ** Math.min(attempt, 4));
        if (performance.now() + pause >= deadline) return giveUp();
        await sleep(pause);
        if (aborted(signal)) return { type: 'info', error: 'aborted' };
      }
      if (performance.now() >= deadline) return giveUp();
      const n = this.groups ?? (await this.groupCount(deadline));
      if (n === undefined) {
        lastError = 'cm-unavailable';
        continue;
      }
      const group = groupOf(keys[0], n);
      if (keys.some((k) => groupOf(k, n) !== group)) return { type: 'fail', error: 'keys-span-groups' };
      const cached = await this.config(group, deadline);
      if (cached === null) {
        lastError = 'cm-unavailable';
        continue;
      }
      const address = this.addresses[cached.config.primary];
      if (address === undefined) {
        this.invalidate(group, cached);
        lastError = 'unknown-primary';
        continue;
      }
      const id = `${this.id}:${++this.seq}`;
      const env: Envelope = { from: this.id, to: cached.config.primary, msg: { kind: 'request', group, id, version: cached.config.version, op } };
      const left = deadline - performance.now();
      const a = await this.attempt(address, env, update ? left : Math.min(left, READ_ATTEMPT_MS), signal);
      if (a.kind === 'reply') {
        const r = a.reply;
        if (r.ok) return r.value === undefined ? { type: 'ok' } : { type: 'ok', value: r.value as KvValue | Record<string, KvValue> };
        const error = r.error ?? 'refused';
        if (DEFINITE_FAILURES.has(error)) return { type: 'fail', error };
        // not-primary, stale-version: not taken into any log; look the configuration up again.
        this.invalidate(group, cached);
        lastError = error;
        continue;
      }
      this.invalidate(group, cached);
      this.dropConnection(address);
      if (a.kind === 'not-sent') {
        lastError = a.error;
        continue;
      }
      if (a.error === 'aborted' || update) return { type: 'info', error: a.error };
      unanswered = true;
    }
  }

  /** Send `env` and wait for its reply, at most `ms`, or until `signal` aborts. */
  private async attempt(address: string, env: Envelope, ms: number, signal: AbortSignal | undefined): Promise<Attempt> {
    const c = this.connection(address);
    if (!(await c.connected)) return { kind: 'not-sent', error: 'connection-refused' };
    if (aborted(signal)) return { kind: 'not-sent', error: 'aborted' };
    const id = (env.msg as { id: string }).id;
    return new Promise<Attempt>((resolve) => {
      let onAbort: (() => void) | undefined;
      const done = (a: Attempt): void => {
        if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
        resolve(a);
      };
      c.pending.set(id, { deadline: performance.now() + ms, done });
      if (!c.write(env)) {
        c.pending.delete(id);
        done({ kind: 'not-sent', error: 'connection-lost' });
        return;
      }
      if (signal !== undefined) {
        onAbort = () => {
          if (c.pending.delete(id)) done({ kind: 'lost', error: 'aborted' });
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      this.sweep();
    });
  }

  /** Expire attempts past their deadline (one shared timer, running only while something waits). */
  private sweep(): void {
    if (this.sweeper !== null) return;
    this.sweeper = setInterval(() => {
      const t = performance.now();
      let waiting = 0;
      for (const c of this.conns.values()) {
        for (const [id, p] of c.pending) {
          if (t >= p.deadline) {
            c.pending.delete(id);
            p.done({ kind: 'lost', error: 'timeout' });
          } else waiting++;
        }
      }
      if (waiting === 0 && this.sweeper !== null) {
        clearInterval(this.sweeper);
        this.sweeper = null;
      }
    }, SWEEP_MS);
  }

  // ------------------------------------------------------------ configurations

  /** The group's configuration under a valid lease: cached, or looked up now. */
  private async config(group: string, deadline: number): Promise<CachedConfig | null> {
    const c = this.configs.get(group);
    if (c !== undefined && performance.now() < c.until) return c;
    await withDeadline(this.refresh(), deadline, undefined);
    const d = this.configs.get(group);
    return d !== undefined && performance.now() < d.until ? d : null;
  }

  /**
   * Look every group's configuration up at once (one lookup at a time): a client that works on
   * several groups then costs the CM one linearizable read per lease, not one per group.
   */
  private refresh(): Promise<void> {
    if (this.lookup !== null) return this.lookup;
    // The lease counts from before the request left: the CM's answer can only be older than that.
    const sent = performance.now();
    const p = this.cm
      .request({ op: 'get' })
      .then((r) => {
        if (!r.ok) return;
        const g = r as unknown as GetResponse;
        this.learn(g);
        const n = Object.keys(g.groups).length;
        if (this.groups === undefined && n > 0) this.groups = n;
        for (const [group, config] of Object.entries(g.groups)) this.configs.set(group, { config, until: sent + this.leaseMs });
      })
      .catch(() => undefined)
      .finally(() => {
        if (this.lookup === p) this.lookup = null;
      });
    this.lookup = p;
    return p;
  }

  /** How many groups the CM holds (asked once, unless given in the options). */
  private async groupCount(deadline: number): Promise<number | undefined> {
    await withDeadline(this.refresh(), deadline, undefined);
    return this.groups;
  }

  private learn(g: GetResponse): void {
    for (const s of Object.values(g.servers)) this.addresses[s.id] = s.address;
  }

  private invalidate(group: string, stale: CachedConfig): void {
    if (this.configs.get(group) === stale) this.configs.delete(group);
  }

  private connection(address: string): DataConnection {
    let c = this.conns.get(address);
    if (c === undefined || c.dead) {
      c = new DataConnection(address);
      this.conns.set(address, c);
    }
    return c;
  }

  private dropConnection(address: string): void {
    const c = this.conns.get(address);
    // Keep a live connection that other operations are waiting on; a dead one is replaced on next use.
    if (c !== undefined && c.dead) this.conns.delete(address);
  }
}

const aborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function withDeadline<T>(p: Promise<T>, deadline: number, dflt: T): Promise<T> {
  const ms = deadline - performance.now();
  if (ms <= 0) return Promise.resolve(dflt);
  return new Promise<T>((resolve) => {
    const t = setTimeout(() => resolve(dflt), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(dflt);
      },
    );
  });
}
