// The workloads by name, and the client that runs any of them against the
// reference system through its client library.

import type { Invocation } from '../harness/generator/index.js';
import type { Client, ClientResult } from '../harness/workers.js';
import { InputError } from '../history/input-error.js';
import { KvClient, type KvClientOptions } from '../system-under-test/client/index.js';
import { appendWorkload } from './append.js';
import { bankWorkload } from './bank.js';
import { registerWorkload } from './register.js';
import { setWorkload } from './set.js';
import type { Workload, WorkloadParams } from './types.js';

export type { Workload, WorkloadParams } from './types.js';
export { checkWorkload, workloadCheckers, type TestSpec } from './checkers.js';

export const WORKLOADS = ['register', 'set', 'append', 'bank'] as const;

export function makeWorkload(name: string, p: WorkloadParams): Workload {
  switch (name) {
    case 'register':
      return registerWorkload(p);
    case 'set':
      return setWorkload();
    case 'append':
      return appendWorkload(p);
    case 'bank':
      return bankWorkload();
    default:
      throw new InputError(`unknown workload ${JSON.stringify(name)}`, {}, `use one of: ${WORKLOADS.join(', ')}`);
  }
}

/** One process's client: its own KvClient (connections and configuration cache), closed when the process retires. */
export function workloadClient(w: Workload, options: KvClientOptions): Client {
  let kv: KvClient | undefined;
  return {
    async open() {
      kv = new KvClient(options);
    },
    invoke(op: Invocation, signal: AbortSignal): Promise<ClientResult> {
      if (!kv) throw new Error('client used before open');
      return w.invoke(kv, op, signal);
    },
    async close() {
      await kv?.close();
    },
  };
}
