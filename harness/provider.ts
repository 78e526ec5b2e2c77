// The provider interface: what starts a cluster of the reference system (or
// of any system with the same roles) and hands the nemesis its handles. Two
// providers implement it: `local` (plain processes on 127.0.0.x) and `docker`
// (one container per node on a private network the harness creates). The
// harness and the nemeses only ever talk to a cluster through this interface.
//
// Cleanup is part of correctness: `teardown` is idempotent, and a provider
// also removes the leftovers of a dead run (`cleanupLeftovers`) before it
// starts, because a SIGKILLed harness cannot clean up after itself.

export type NodeRole = 'cm' | 'data';

export interface NodeInfo {
  /** n1, n2, ... for CM nodes; d1, d2, ... for data servers. */
  readonly name: string;
  readonly role: NodeRole;
  /** host:port that the other nodes and the harness's clients use. */
  readonly address: string;
}

export interface ClusterSpec {
  /** Number of CM nodes (3 or 5). */
  readonly cm: number;
  /** Number of data servers. */
  readonly data: number;
  /** Replication groups and replicas per group. */
  readonly groups: number;
  readonly replication: number;
  /** Seeded bugs passed to every node as --bug NAME. */
  readonly bugs: readonly string[];
  /** The run's folder: node logs go to RUN/nodes/NODE/*.log. */
  readonly runDir: string;
  /** Labels every process, container, network and iptables chain of this run. */
  readonly runId: string;
  /** Start every node under libfaketime, so that `setClockOffset` works (clock faults). */
  readonly fakeClock?: boolean;
  /** Extra flags for the nodes (timing: lease, grace, tick), passed through verbatim. */
  readonly cmArgs?: readonly string[];
  readonly dataArgs?: readonly string[];
}

/**
 * Jepsen's grudge: for each node, the nodes whose packets it drops. A
 * partition is symmetric when the grudge is; the nemesis builds grudges
 * (halves, isolate one, primary from secondaries, majorities ring, bridge).
 */
export type Grudge = Readonly<Record<string, readonly string[]>>;

export interface Cluster {
  readonly nodes: readonly NodeInfo[];
  /** Addresses of the CM nodes, for clients. */
  readonly cmAddresses: readonly string[];
  /** kill -9; the node's data stays for `start`. */
  kill(node: string): Promise<void>;
  /** Starts a killed (or never started) node on its old data. */
  start(node: string): Promise<void>;
  /** SIGSTOP / freezer, and back. */
  pause(node: string): Promise<void>;
  resume(node: string): Promise<void>;
  /** Moves the node's clock (libfaketime) by `offsetMs` from the true time; 0 resets. Never the host clock. */
  setClockOffset(node: string, offsetMs: number): Promise<void>;
  /** Replaces any partition in force with `grudge`. */
  partition(grudge: Grudge): Promise<void>;
  /** Removes every partition rule of this run. */
  heal(): Promise<void>;
  /** Is the node's process running (not killed)? Paused counts as running. */
  isRunning(node: string): boolean;
  /**
   * Starts a stopped node on an empty data dir (its old data deleted), as a
   * replacement server would start; with `join`, a CM node starts with
   * `--join` (no configuration until a member adds it as a learner, then a
   * voter); it keeps the flag for its later restarts (`--join` only matters
   * on an empty disk). The caller must know the node is no longer a
   * member anywhere: a wiped member would have lost what it acknowledged.
   * Throws if the node is running.
   */
  startFresh(node: string, o?: { readonly join?: boolean }): Promise<void>;
  /** The replication groups and replicas per group it was started with: what full replication means. */
  readonly layout: { readonly groups: number; readonly replication: number };
  /** Stops every node and removes everything of this run; idempotent, safe after a partial start. */
  teardown(): Promise<void>;
}

export interface Provider {
  readonly name: string;
  /** Removes whatever dead runs of ours left behind (processes, containers, networks, rules). */
  cleanupLeftovers(): Promise<void>;
  /** Starts the cluster, bootstraps the CM and the groups, and resolves once every group serves. */
  up(spec: ClusterSpec, signal?: AbortSignal): Promise<Cluster>;
}
