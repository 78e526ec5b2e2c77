// The workload protocol: a workload is plain data plus generators, as in
// Jepsen: the client ops of the main phase, the final ops after the faults are
// healed, ops to run once before the test, and the checkers that judge its
// history. It knows no system: a system's client carries out the ops, whose
// vocabulary each workload fixes (below), so that any adapter can serve it.
//
//   register  read {key} -> value | null; write {key, value}; cas {key, value: [from, to]}
//             (a cas whose current value is not `from` is a definite fail)
//   set       add {value}; read -> every element added (a list)
//   append    append {key, value}; read {key} -> the list, in append order ([] when absent)
//   bank      transfer {value: {from, to, amount}} (fail when it would overdraw);
//             read -> {account: balance} of every account in workloadOptions.accounts;
//             write {key: account, value: balance} (only in setup: the opening balances)
//   version-register  read {key} -> the key's version (0 while absent);
//             cas {key, value: [v, v + 1]}: moves the version from v to v + 1
//             (creating the key when v is 0); a definite fail when it is not v.
//             Completes ok with the same [v, v + 1].

import type { Checker } from '../../checkers/index.js';
import type { GenLike, OpSpec, Random } from './generator/index.js';

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

/** What a workload's checkers need to know of the test (test.json). */
export interface TestSpec {
  workload: string;
  /** Workload-specific settings, e.g. the bank's starting total. */
  workloadOptions?: Record<string, unknown>;
  /** Linearizability search budget in seconds. */
  checkerBudget?: number;
}

export interface Workload {
  readonly name: string;
  /** What the checkers and clients need (test.json's workloadOptions). */
  readonly options: Record<string, unknown>;
  /** Client ops of the main phase; the harness bounds it in time and rate. */
  readonly generator: GenLike;
  /** Client ops after healing and the quiet phase (final reads); null for none. */
  readonly final: GenLike;
  /**
   * Ops run once before the test, in order, each repeated until it is `ok`
   * (so only ops that are safe to repeat: writes of fixed values before any
   * other op runs). Not part of the history.
   */
  readonly setup?: readonly OpSpec[];
}

/** What `undertow bench` asks of a workload's ops. */
export interface BenchParams {
  /** Keys, drawn uniformly: a fixed key space, as benchmarks use (no rolling keys: nothing is checked). */
  readonly keys: number;
  /** The share of reads. */
  readonly readFraction: number;
}

export interface WorkloadDefinition {
  readonly name: string;
  /** One line for `--help`. */
  readonly summary: string;
  make(p: WorkloadParams): Workload;
  /** The checkers that judge a history of it, from test.json alone (so `undertow analyze` can judge a stored run). */
  checkers(test: TestSpec): Record<string, Checker>;
  /**
   * Ops for `undertow bench`, one per call, as fast as clients take them: the
   * workload's own ops over a fixed key space, drawn with `random`. A
   * workload without it cannot be benchmarked (one line says so).
   */
  readonly bench?: (p: BenchParams) => (random: Random) => OpSpec;
}
