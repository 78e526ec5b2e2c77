// The history format, after Jepsen: every operation is an `invoke` event followed
// later by a completion from the same process: `ok` (it happened), `fail` (it
// certainly did not happen) or `info` (unknown: it may or may not have happened).
// Histories are plain data so that they print, diff and serialize as they are.

/** Plain data values that histories carry (what JSON and EDN's subset we read can hold). */
export type Value = null | boolean | number | string | Value[] | { [k: string]: Value };

export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

/** Jepsen's nemesis writes its own ops under this process name. */
export const NEMESIS = 'nemesis';

export type Process = number | typeof NEMESIS;

export type Key = string | number;

export interface Op {
  /** Position of the event in the history: 0, 1, 2, ... */
  index: number;
  type: OpType;
  /** The operation's function, e.g. "read", "write", "cas", "append". */
  f: string;
  /** Argument on invoke; result (or the argument repeated) on completion. */
  value: Value;
  process: Process;
  /** Monotonic nanoseconds since the test's start. */
  time: number;
  /** Independent key (Jepsen's `independent` tuples are unpacked into this field). */
  key?: Key;
  /** Why an op failed or is unknown, e.g. "timed-out". */
  error?: Value;
}

export type History = Op[];

/**
 * An invocation paired with its completion. Pending invocations (no completion
 * in the history) count as `info`: unknown outcome, no upper bound on when they
 * could take effect.
 */
export interface Operation {
  /** Position among the history's client operations, in invocation order. */
  id: number;
  process: number;
  f: string;
  key?: Key;
  /** The invocation's value: the argument. */
  input: Value;
  /** The completion's value (the result for reads); null when unknown. */
  output: Value;
  type: 'ok' | 'fail' | 'info';
  /** Event index of the invocation. */
  invokeIndex: number;
  /** Event index of the completion; Infinity for info and pending ops. */
  completeIndex: number;
  /** Invocation time, ns. */
  invokeTime: number;
  /** Completion time, ns; Infinity for info and pending ops. */
  completeTime: number;
  error?: Value;
}
