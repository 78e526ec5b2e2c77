// etcd's clients for the workloads, through its v3 JSON gateway (./gateway.ts).
//
// Why the JSON gateway and not the `etcd3` npm package (gRPC): measured with
// bench/etcd-client.ts, 10,000 serializable gets with 16 in flight against 3
// members on loopback, 7 rounds alternating (node 20, 2 cores shared with
// other work, so the ranges are wide); CPU per op, median (range):
//                                    client µs/op     etcd µs/op      ops/s
//   JSON gateway, this client        149 (120-263)    411 (331-476)   1,844-3,820
//   etcd3 1.1.2, a client per worker 237 (176-384)    161 (127-185)   2,302-4,249
//   etcd3 1.1.2, one shared client   205 (176-288)    139 (82-180)    2,401-4,019
// The gateway costs the harness the least CPU in its own shape (a client per
// process: less than etcd3 in 6 of 7 rounds), knows exactly whether a request
// was sent (ECONNREFUSED is a certain fail; gRPC's UNAVAILABLE is not), and
// adds no dependency (etcd3 brings @grpc/grpc-js, protobufjs and cockatiel,
// whose retry and circuit-breaker policies would have to be switched off).
// What it costs: etcd spends ~250 µs more per op turning HTTP/JSON into its
// own gRPC (the gateway is a gRPC client inside etcd), which shows in
// throughput on a small machine: use etcd's own benchmark for its speed.
//
// Each client opens against one member's client address and sticks to it (no
// failover), so that an isolated member's stale serializable read shows. One
// attempt per op: no retries, no circuit breakers. What an answer means
// (Jepsen's ok/fail/info): a read's error is always `fail` (reads change
// nothing); a write's error is `fail` when it certainly did not apply (see
// gateway.ts: refused before sending, rejected by etcd before proposing,
// "compacted"), else `info`; a txn whose compare did not match is `fail`.
//
// Ops (harness/core/workload.ts), keys by workload:
//   register  read {key} (a range; the number or null), write (a put), cas
//             [from, to] (a txn: value == JSON(from) then put JSON(to));
//   set       add {value}: the one key `set` holds a JSON list; read it, then a
//             txn: mod_revision == the one read, put the list with the value
//             appended, else range the key. A failed compare certainly did
//             not apply, so the op tries again with what the else branch
//             returned, until its deadline (then `fail`: nothing applied).
//             That is not a retry of an attempt that may have applied: an
//             attempt whose outcome is unknown ends the op as `info`.
//   append    the same per key {key, value}; read {key}: the list, [] absent;
//   bank      transfer {from, to, amount}: read both balances (one txn of two
//             ranges), `fail` if `from` would go negative, else a txn comparing
//             both mod_revisions and putting both (else: range both, and again);
//             read: one txn of a range per account (atomic), absent = 0;
//             write {key, value}: a put (setup).
// Reads are linearizable unless `reads` is serializable (then every range has
// `serializable: true`, answered by the member itself). The read a write op
// does first is always linearizable: its errors are definite (nothing written
// yet) and a stale one would only cost a failed compare.

import type { Client, ClientResult } from '../../harness/core/client.js';
import type { Invocation } from '../../harness/core/generator/types.js';
import type { Value } from '../../history/types.js';
import { EtcdError, Gateway, modIs, putOp, rangeOp, unb64, valueIs, type KeyValue, type RangeResponse, type TxnResponse } from './gateway.js';

export type ReadMode = 'linearizable' | 'serializable';
export const WORKLOADS = ['register', 'set', 'append', 'bank'] as const;

export interface EtcdClientOptions {
  readonly workload: string;
  readonly reads: ReadMode;
  /** The worker's op timeout; the client gives up a little earlier. */
  readonly opTimeoutMs: number;
  /** The bank's accounts (workloadOptions.accounts). */
  readonly accounts?: readonly string[];
}

/** How long a client works on an op of a worker that waits `opTimeoutMs`. */
export const giveUpMs = (opTimeoutMs: number): number => Math.max(100, Math.min(opTimeoutMs - 250, opTimeoutMs * 0.9));

export const keyOf = {
  register: (k: unknown) => `register/${String(k)}`,
  set: () => 'set',
  append: (k: unknown) => `append/${String(k)}`,
  bank: (account: unknown) => `bank/${String(account)}`,
};

/** A kv's JSON value; null when absent. */
function decode(kv: KeyValue | undefined): Value {
  if (kv === undefined) return null;
  return JSON.parse(unb64(kv.value)) as Value;
}
const first = (r: RangeResponse | undefined): KeyValue | undefined => r?.kvs?.[0];
const revisionOf = (kv: KeyValue | undefined): string => kv?.mod_revision ?? '0';
const listOf = (kv: KeyValue | undefined): Value[] => {
  const v = decode(kv);
  if (v === null) return [];
  if (!Array.isArray(v)) throw new EtcdError(`expected a JSON list, found ${JSON.stringify(v).slice(0, 80)}`, true);
  return v;
};
const balanceOf = (kv: KeyValue | undefined): number => {
  const v = decode(kv);
  if (v === null) return 0;
  if (typeof v !== 'number') throw new EtcdError(`expected a balance, found ${JSON.stringify(v).slice(0, 80)}`, true);
  return v;
};

/** A definite `fail` that is not an error of etcd's (a compare that did not match, an overdraw). */
class Refused {
  constructor(readonly error: Value) {}
}

export class EtcdClient implements Client {
  private gw: Gateway | null = null;
  private readonly budgetMs: number;

  constructor(private readonly o: EtcdClientOptions) {
    if (!(WORKLOADS as readonly string[]).includes(o.workload)) throw new RangeError(`etcd has no client for workload ${JSON.stringify(o.workload)}`);
    this.budgetMs = giveUpMs(o.opTimeoutMs);
  }

  async open(node: string): Promise<void> {
    this.gw = new Gateway(node);
  }

  async close(): Promise<void> {
    this.gw?.close();
    this.gw = null;
  }

  async invoke(op: Invocation, signal: AbortSignal): Promise<ClientResult> {
    const gw = this.gw;
    if (gw === null) return { type: 'fail', error: 'not open' };
    const run = new OpRun(gw, signal, performance.now() + this.budgetMs, this.o.reads === 'serializable');
    const isRead = op.f === 'read';
    try {
      const value = await this.dispatch(run, op);
      return value === undefined ? { type: 'ok' } : { type: 'ok', value };
    } catch (e) {
      if (e instanceof Refused) return { type: 'fail', error: e.error };
      if (e instanceof EtcdError) return { type: isRead || e.definite ? 'fail' : 'info', error: e.message };
      // A bug of ours (a malformed op): nothing was sent for it.
      return { type: 'fail', error: `client: ${(e as Error).message}` };
    }
  }

  private dispatch(run: OpRun, op: Invocation): Promise<Value | undefined> {
    const { workload } = this.o;
    const v = op.value;
    switch (`${workload} ${op.f}`) {
      case 'register read':
        return run.get(keyOf.register(op.key)).then(decode);
      case 'register write':
        return run.put(keyOf.register(op.key), JSON.stringify(v)).then(() => undefined);
      case 'register cas': {
        if (!Array.isArray(v) || v.length !== 2) throw new Error(`cas needs [from, to], got ${JSON.stringify(v)}`);
        return run.cas(keyOf.register(op.key), JSON.stringify(v[0]), JSON.stringify(v[1])).then(() => undefined);
      }
      case 'set add':
        return run.appendTo(keyOf.set(), v).then(() => undefined);
      case 'set read':
        return run.get(keyOf.set()).then(listOf);
      case 'append append':
        return run.appendTo(keyOf.append(op.key), v).then(() => undefined);
      case 'append read':
        return run.get(keyOf.append(op.key)).then(listOf);
      case 'bank transfer': {
        const t = v as { from?: unknown; to?: unknown; amount?: unknown } | null;
        if (t === null || typeof t !== 'object' || typeof t.amount !== 'number' || t.from === undefined || t.to === undefined) {
          throw new Error(`transfer needs {from, to, amount}, got ${JSON.stringify(v)}`);
        }
        return run.transfer(keyOf.bank(t.from), keyOf.bank(t.to), t.amount).then(() => undefined);
      }
      case 'bank read': {
        const accounts = this.o.accounts ?? [];
        return run.getMany(accounts.map(keyOf.bank)).then((kvs) => Object.fromEntries(accounts.map((a, i) => [a, balanceOf(kvs[i])])));
      }
      case 'bank write':
        return run.put(keyOf.bank(op.key), JSON.stringify(v)).then(() => undefined);
      default:
        throw new Error(`the ${workload} workload has no op ${JSON.stringify(op.f)}`);
    }
  }
}

/** Another attempt after a failed compare only with at least this much of the op's time left (else a sure fail, not a likely timeout). */
const AGAIN_MS = 50;

/** One op's requests, all against its deadline and signal. */
class OpRun {
  constructor(
    private readonly gw: Gateway,
    private readonly signal: AbortSignal,
    private readonly deadline: number,
    private readonly serializable: boolean,
  ) {}

  private left(): number {
    return this.deadline - performance.now();
  }

  /** A request that may change something (its errors are as classified). */
  private write<T>(path: string, body: unknown): Promise<T> {
    const left = this.left();
    if (left <= 0) return Promise.reject(new EtcdError("gave up: the op's time ran out before this request", true));
    return this.gw.post<T>(path, body, { signal: this.signal, timeoutMs: left });
  }

  /** A request that changes nothing: every error is definite. */
  private async read<T>(path: string, body: unknown): Promise<T> {
    try {
      return await this.write<T>(path, body);
    } catch (e) {
      if (e instanceof EtcdError && !e.definite) throw new EtcdError(e.message, true, e.code);
      throw e;
    }
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return first(await this.read<RangeResponse>('/v3/kv/range', rangeOp(key, this.serializable).request_range));
  }

  /** Several keys at one revision: one txn of ranges (serializable when every range is). */
  async getMany(keys: readonly string[], linearizable = false): Promise<(KeyValue | undefined)[]> {
    const r = await this.read<TxnResponse>('/v3/kv/txn', { success: keys.map((k) => rangeOp(k, this.serializable && !linearizable)) });
    return keys.map((_, i) => first(r.responses?.[i]?.response_range));
  }

  async put(key: string, value: string): Promise<void> {
    await this.write('/v3/kv/put', putOp(key, value).request_put);
  }

  async cas(key: string, from: string, to: string): Promise<void> {
    const r = await this.write<TxnResponse>('/v3/kv/txn', { compare: [valueIs(key, from)], success: [putOp(key, to)] });
    if (!r.succeeded) throw new Refused(`cas: the value was not ${from}`);
  }

  /** Appends `value` to the JSON list at `key`: compare-and-put on its mod_revision, again after each compare that did not match. */
  async appendTo(key: string, value: Value): Promise<void> {
    let kv = first(await this.read<RangeResponse>('/v3/kv/range', rangeOp(key).request_range));
    for (let conflicts = 0; ; conflicts++) {
      const list = listOf(kv);
      const r = await this.write<TxnResponse>('/v3/kv/txn', {
        compare: [modIs(key, revisionOf(kv))],
        success: [putOp(key, JSON.stringify([...list, value]))],
        failure: [rangeOp(key)],
      });
      if (r.succeeded) return;
      kv = first(r.responses?.[0]?.response_range);
      if (this.left() < AGAIN_MS) throw new Refused(`append: ${conflicts + 1} compares on mod_revision did not match before the op's time ran out`);
    }
  }

  async transfer(from: string, to: string, amount: number): Promise<void> {
    if (from === to) throw new Refused('transfer: from and to are the same account');
    if (!(amount > 0)) throw new Refused(`transfer: amount ${amount} is not positive`);
    let [kf, kt] = await this.getMany([from, to], true);
    for (let conflicts = 0; ; conflicts++) {
      const bf = balanceOf(kf);
      const bt = balanceOf(kt);
      if (bf < amount) throw new Refused(`overdraw: ${from} holds ${bf}, transfer of ${amount}`);
      const r = await this.write<TxnResponse>('/v3/kv/txn', {
        compare: [modIs(from, revisionOf(kf)), modIs(to, revisionOf(kt))],
        success: [putOp(from, JSON.stringify(bf - amount)), putOp(to, JSON.stringify(bt + amount))],
        failure: [rangeOp(from), rangeOp(to)],
      });
      if (r.succeeded) return;
      kf = first(r.responses?.[0]?.response_range);
      kt = first(r.responses?.[1]?.response_range);
      if (this.left() < AGAIN_MS) throw new Refused(`transfer: ${conflicts + 1} compares on mod_revision did not match before the op's time ran out`);
    }
  }
}

/** A new, unopened client for one process of `workload`. */
export function etcdClient(o: EtcdClientOptions): EtcdClient {
  return new EtcdClient(o);
}
