// The reference system's client for every workload: one KvClient (the
// system's own client library, with its connections and its cache of group
// configurations) per process, closed when the process retires. The library
// already answers ok, fail (certainly not applied) or info (unknown); this
// only maps each workload's ops onto it and shapes read values for the
// checkers.

import type { Client, ClientResult } from '../../harness/core/client.js';
import type { Invocation } from '../../harness/core/generator/index.js';
import type { Value } from '../../history/types.js';
import { KvClient, type KvClientOptions, type KvOutcome } from '../../system-under-test/client/index.js';

/** The set workload's elements live in one list under this key. */
export const SET_KEY = 'set';

export function completion(o: KvOutcome, value?: (v: unknown) => Value): ClientResult {
  switch (o.type) {
    case 'ok':
      return value ? { type: 'ok', value: value(o.value ?? null) } : { type: 'ok' };
    case 'fail':
      return { type: 'fail', error: o.error };
    default:
      return { type: 'info', error: o.error };
  }
}

/** A list read: an absent key is the empty list. */
export const asList = (v: unknown): Value => (v === null || v === undefined ? [] : (v as Value));

type Invoke = (kv: KvClient, op: Invocation, signal: AbortSignal) => Promise<ClientResult>;

const unknownOp = (workload: string, op: Invocation): never => {
  throw new Error(`${workload}: unknown op ${op.f}`);
};

/** How each workload's ops are carried out with the client library. */
export function invokerFor(workload: string, workloadOptions: Readonly<Record<string, unknown>>): Invoke {
  switch (workload) {
    case 'register':
      return async (kv, op, signal) => {
        const k = String(op.key);
        if (op.f === 'read') return completion(await kv.read(k, signal), (v) => v as number | null);
        if (op.f === 'write') return completion(await kv.write(k, op.value as number, signal));
        if (op.f === 'cas') {
          const [from, to] = op.value as [number, number];
          return completion(await kv.cas(k, from, to, signal));
        }
        return unknownOp(workload, op);
      };
    case 'set':
      return async (kv, op, signal) => {
        if (op.f === 'add') return completion(await kv.append(SET_KEY, op.value as number, signal));
        if (op.f === 'read') return completion(await kv.read(SET_KEY, signal), asList);
        return unknownOp(workload, op);
      };
    case 'append':
      return async (kv, op, signal) => {
        const k = String(op.key);
        if (op.f === 'append') return completion(await kv.append(k, op.value as number, signal));
        if (op.f === 'read') return completion(await kv.read(k, signal), asList);
        return unknownOp(workload, op);
      };
    case 'bank': {
      const accounts = (workloadOptions.accounts ?? []) as string[];
      return async (kv, op, signal) => {
        if (op.f === 'transfer') {
          const t = op.value as { from: string; to: string; amount: number };
          return completion(await kv.transfer(t.from, t.to, t.amount, signal));
        }
        if (op.f === 'read') {
          return completion(await kv.readMany(accounts, signal), (v) => {
            const balances = (v ?? {}) as Record<string, unknown>;
            return Object.fromEntries(accounts.map((a) => [a, balances[a] ?? 0])) as Value;
          });
        }
        if (op.f === 'write') return completion(await kv.write(String(op.key), op.value as number, signal));
        return unknownOp(workload, op);
      };
    }
    default:
      throw new Error(`the reference system has no client for workload ${workload}`);
  }
}

/** One process's client. */
export function referenceClient(invoke: Invoke, options: KvClientOptions): Client {
  let kv: KvClient | undefined;
  return {
    async open() {
      kv = new KvClient(options);
    },
    invoke(op, signal) {
      if (!kv) throw new Error('client used before open');
      return invoke(kv, op, signal);
    },
    async close() {
      await kv?.close();
    },
  };
}
