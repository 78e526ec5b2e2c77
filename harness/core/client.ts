// The client protocol, as Jepsen's: one client per process, opened against a
// node, invoking one op at a time. Its answer is the op's completion, with
// Jepsen's meaning:
//   ok    the op took effect, once, between its invocation and this answer;
//   fail  the op certainly did not take effect (refused before it was sent, a
//         compare that did not match, a read: reads change nothing, so a read
//         whose answer is lost may always be `fail`);
//   info  unknown: it may take effect at any time, even later, or never.
// A client that guesses (a timed-out write recorded as fail, a retry after an
// attempt that may have applied) makes false alarms: when in doubt, `info`.
// The worker pool turns a timeout into `info` "timed-out" and a thrown error
// into `info` with its message; a client that cannot open is `fail`.

import type { Value } from '../../history/types.js';
import type { Invocation } from './generator/types.js';

export interface ClientResult {
  type: 'ok' | 'fail' | 'info';
  /** The completion's value (a read's result); the invocation's value when left out. */
  value?: Value;
  error?: Value;
}

export interface Client {
  /** Connects to `node` (one of the addresses the system's `clientNodes` gave); called once per process, before its first op. */
  open(node: string): Promise<void>;
  /** `signal` is aborted when the op times out: stop waiting for it. */
  invoke(op: Invocation, signal: AbortSignal): Promise<ClientResult>;
  close(): Promise<void>;
}

export interface Nemesis {
  /** Starts or stops a fault; the value describes what it did (e.g. the nodes it killed). */
  invoke(op: Invocation): Promise<{ value?: Value }>;
  /** Heals whatever is left and releases the nemesis's resources. */
  teardown(): Promise<void>;
}
