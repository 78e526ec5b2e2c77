// A workload is plain data plus two functions, as in Jepsen: the client ops
// of the main phase, the final ops after the faults are healed, an optional
// setup, and how one op is carried out with the reference system's client
// library. Its checkers are named in checkers.ts by the same name, so that
// `undertow analyze` can judge a stored run from test.json alone.

import type { GenLike, Invocation } from '../harness/generator/index.js';
import type { ClientResult } from '../harness/workers.js';
import type { KvClient } from '../system-under-test/client/index.js';

export interface WorkloadParams {
  /** Distinct keys in use at any time (register, append). */
  readonly keys: number;
  /** A key is retired after about this many ops, so that each key's history stays small enough to check. */
  readonly opsPerKey: number;
  /** Client ops per second over all workers. */
  readonly rate: number;
  /** register: the share of reads (default a third; the rest split between write and cas). */
  readonly readFraction?: number;
}

export interface Workload {
  readonly name: string;
  /** What the checkers need (test.json's workloadOptions). */
  readonly options: Record<string, unknown>;
  /** Client ops of the main phase; the harness bounds it in time and rate. */
  readonly generator: GenLike;
  /** Client ops after healing and the quiet phase (final reads); null for none. */
  readonly final: GenLike;
  /** Before the first op: e.g. the bank's opening balances. */
  setup?(kv: KvClient, signal: AbortSignal): Promise<void>;
  /** Carries out one op. */
  invoke(kv: KvClient, op: Invocation, signal: AbortSignal): Promise<ClientResult>;
}
