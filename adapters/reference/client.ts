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
import type { GroupLayout } from '../../system-under-test/cm/state.js';
import { CmClient, type CmRequest, type CmResponse, type GetResponse } from '../../system-under-test/runtime/client.js';

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

/** What the invokers use of the client library (the real one, or its logic in the simulated world). */
export type KvApi = Pick<KvClient, 'read' | 'write' | 'cas' | 'append' | 'transfer' | 'readMany'>;

type Invoke = (kv: KvApi, op: Invocation, signal: AbortSignal) => Promise<ClientResult>;

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

// ------------------------------------------------------------ version-register

/**
 * The version-register workload's keys are configurations the CM holds that
 * no data server serves: each key is a group `vr-KEY` whose layout names only
 * this server, registered with an address where nothing listens. Data servers
 * open replicas only of groups that name them, so they never touch these; the
 * cluster view leaves them out. The CM's version of the group is the key's
 * version (0 while the group does not exist).
 */
export const UNSERVED = 'unserved';
export const UNSERVED_ADDRESS = '0.0.0.0:1';
const UNSERVED_LAYOUT: GroupLayout = { primary: UNSERVED, secondaries: [] };
export const versionGroup = (key: string): string => `vr-${key}`;

/**
 * Answers the CM gives only after the request was applied and refused by the
 * state machine, or only before it was proposed: the request certainly did
 * not take effect. Any other failure (a timeout after sending, a connection
 * lost with the request in flight, an error we do not know) is unknown.
 */
const DEFINITELY_NOT_APPLIED = new Set([
  'version-mismatch',
  'no-such-group',
  'group-exists',
  'unknown-server',
  'bad-config',
  'bad-request',
  'not-leader',
  'no-leader',
  'leader-not-ready',
  'unreachable',
]);

/** A CM write's answer as an op outcome: ok, fail (certainly not applied) or info (unknown). */
export function cmOutcome(r: CmResponse, value: Value): ClientResult {
  if (r.ok) return { type: 'ok', value };
  if (r.unknown !== true && DEFINITELY_NOT_APPLIED.has(r.error)) return { type: 'fail', error: r.error };
  return { type: 'info', error: r.error };
}

/** What the version-register client asks of a CM client (the real one, or the simulated world's). */
export interface CmApi {
  request(req: CmRequest): Promise<CmResponse>;
  close(): void;
}

/** One process's version-register client: a CM client of its own (a CmClient unless `connect` makes another). */
export function versionClient(
  options: { cm: readonly string[]; timeoutMs: number },
  connect: () => CmApi = () => new CmClient(options.cm, { timeoutMs: options.timeoutMs, attemptMs: Math.min(1500, options.timeoutMs) }),
): Client {
  let cm: CmApi | undefined;
  let registered = false;
  const write = async (req: CmRequest, value: Value): Promise<ClientResult> => cmOutcome(await cm!.request(req), value);
  return {
    async open() {
      cm = connect();
    },
    async invoke(op) {
      if (!cm) throw new Error('client used before open');
      const group = versionGroup(String(op.key));
      if (op.f === 'read') {
        const r = await cm.request({ op: 'get', group });
        if (!r.ok) return { type: 'fail', error: r.error }; // a read changes nothing
        const g = (r as unknown as GetResponse).groups[group];
        return { type: 'ok', value: g === undefined ? 0 : g.version };
      }
      if (op.f === 'cas') {
        const [from, to] = op.value as [number, number];
        if (!Number.isSafeInteger(from) || to !== from + 1 || from < 0)
          throw new Error(`version-register: cas must be [v, v+1], got ${JSON.stringify(op.value)}`);
        if (from > 0) return write({ op: 'reconfigure', group, expectedVersion: from, config: UNSERVED_LAYOUT }, [from, to]);
        // Creating the key: its layout names the placeholder server, which must be known to the CM first
        // (registering it again is harmless; until it is, the create was never sent).
        if (!registered) {
          const r = await cm.request({ op: 'registerServer', id: UNSERVED, address: UNSERVED_ADDRESS });
          if (!r.ok) return { type: 'fail', error: `registerServer: ${r.error}` };
          registered = true;
        }
        return write({ op: 'createGroups', groups: { [group]: UNSERVED_LAYOUT } }, [from, to]);
      }
      throw new Error(`version-register: unknown op ${op.f}`);
    },
    async close() {
      cm?.close();
    },
  };
}
