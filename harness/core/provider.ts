// The provider protocol: what starts a system's nodes somewhere and hands the
// nemesis its handles. Two providers implement it: `local` (plain processes on
// 127.x addresses, harness/providers/local.ts) and `docker` (one container per
// node on a private network the harness creates, docker/provider.ts). A
// provider knows no system: what to run on each node, on which ports, and
// when the cluster is ready come from the system's `Deployment`
// (./system.ts). The harness and the nemesis only ever talk to a cluster
// through this interface.
//
// Cleanup is part of correctness: `teardown` is idempotent, and a provider
// also removes the leftovers of a dead run (`cleanupLeftovers`) before it
// starts, because a SIGKILLed harness cannot clean up after itself.

import type { Deployment } from './system.js';

export interface NodeInfo {
  /** The system's name for the node (n1, d2, e3, ...). */
  readonly name: string;
  /** The system's role for the node (cm, data, member, ...). */
  readonly role: string;
  /** The node's own IPv4 address (127.A.B.x locally, the container's address under Docker). */
  readonly host: string;
  /** host:port of its client port: what clients and the harness use. */
  readonly address: string;
}

export interface ClusterSpec {
  /** What runs on the nodes: names, roles, ports, command lines, readiness. */
  readonly deployment: Deployment;
  /** The run's folder: node logs go to RUN/nodes/NODE/*.log, data to RUN/nodes/NODE/data. */
  readonly runDir: string;
  /** Labels every process, container, network and iptables chain of this run. */
  readonly runId: string;
  /** Start every node under libfaketime, so that `setClockOffset` works (clock faults). */
  readonly fakeClock?: boolean;
  /**
   * Start every node under the power shim (nemesis/power.ts), so that
   * `powerFail` can drop what a node had not made durable (power faults).
   */
  readonly powerFaults?: boolean;
}

/** What a power failure dropped (nemesis/power.ts `rollBack`). */
export interface PowerLoss {
  /** The node's files put back to their last durable state (relative to its data folder). */
  readonly files: readonly string[];
  /** Unsynced bytes undone. */
  readonly undone: number;
  /** Durable (O_DSYNC) writes put back over older unsynced ones. */
  readonly redone: number;
  /** Files with unsynced writes that no longer exist. */
  readonly gone: number;
}

/**
 * Jepsen's grudge: for each node, the nodes whose packets it drops. A
 * partition is symmetric when the grudge is; the nemesis builds grudges
 * (halves, isolate one, primary from secondaries, majorities ring, bridge).
 */
export type Grudge = Readonly<Record<string, readonly string[]>>;

/**
 * What a packet fault does to a node's outgoing packets (tc: netem, and an
 * HTB class for the rate); every field optional, at least one set.
 */
export interface Netem {
  /** Added to every packet (ms), with `jitterMs` either way. */
  readonly delayMs?: number;
  readonly jitterMs?: number;
  /** Percent of packets dropped (at random). */
  readonly lossPct?: number;
  /** Percent of packets sent twice. */
  readonly duplicatePct?: number;
  /** Percent of packets sent at once, ahead of the delayed ones (needs a delay). */
  readonly reorderPct?: number;
  /** The node's outgoing rate, kbit/s. */
  readonly rateKbit?: number;
}

/** A stopped simulated node's files, in memory. */
export interface DataFiles {
  /** Its files and their sizes. */
  list(): { name: string; size: number }[];
  read(name: string): Uint8Array;
  replace(name: string, bytes: Uint8Array): void;
}

export interface Cluster {
  readonly nodes: readonly NodeInfo[];
  /** kill -9; the node's data stays for `start`. */
  kill(node: string): Promise<void>;
  /** Starts a killed (or never started) node on its old data. */
  start(node: string): Promise<void>;
  /**
   * A power failure: kill -9, then every write the node had not made durable
   * (fsync, fdatasync, O_SYNC/O_DSYNC) undone in its files; `start` brings it
   * back on what is left. Needs the cluster started with `powerFaults`.
   */
  powerFail(node: string): Promise<PowerLoss>;
  /** SIGSTOP / freezer, and back. */
  pause(node: string): Promise<void>;
  resume(node: string): Promise<void>;
  /** Moves the node's clock (libfaketime) by `offsetMs` from the true time; 0 resets. Never the host clock. */
  setClockOffset(node: string, offsetMs: number): Promise<void>;
  /**
   * Flips the nodes' clocks between `deltaMs` and 0 every `periodMs` for
   * `durationMs`, or until a `setClockOffset`, on its own: a simulated cluster
   * does it in virtual time. Without it the nemesis flips the clocks itself
   * with `setClockOffset`, in real time.
   */
  strobeClock?(nodes: readonly string[], deltaMs: number, periodMs: number, durationMs: number): void;
  /** Replaces any partition in force with `grudge`. */
  partition(grudge: Grudge): Promise<void>;
  /** Removes every partition rule of this run. */
  heal(): Promise<void>;
  /** The host path of the node's data dir (RUN/nodes/NODE/data on both providers), for faults that act on files of a stopped node. */
  dataDir(node: string): string;
  /** A simulated node's files, held in memory (no data dir): the corrupt fault changes them there. */
  dataFiles?(node: string): DataFiles;
  /**
   * Delays, drops, duplicates, reorders or rate-limits the packets these
   * nodes send (tc: netem and an HTB class), replacing any packet fault in
   * force; the other nodes' traffic is untouched.
   */
  packet(nodes: readonly string[], netem: Netem): Promise<void>;
  /** Removes this run's packet fault (every qdisc, class and filter it added); fine when there is none. */
  clearPacket(): Promise<void>;
  /** Is the node's process running (not killed)? Paused counts as running. */
  isRunning(node: string): boolean;
  /**
   * Starts a stopped node on an empty data dir (its old data deleted), as a
   * replacement server would start; with `join`, its command line is the
   * deployment's `launch` with `join: true` (it joins a running cluster
   * instead of bootstrapping one), kept for its later restarts. The caller
   * must know the node is no longer a member anywhere: a wiped member would
   * have lost what it acknowledged. Throws if the node is running.
   */
  startFresh(node: string, o?: { readonly join?: boolean }): Promise<void>;
  /**
   * CPU seconds (user + system) the cluster's nodes have used so far, read
   * without blocking (a bench reads it at a window's start and end); NaN
   * when the provider cannot tell. Work of a node killed since is not kept.
   */
  cpuSeconds?(): number;
  /** Stops every node and removes everything of this run; idempotent, safe after a partial start. */
  teardown(): Promise<void>;
}

export interface Provider {
  readonly name: string;
  /** Removes whatever dead runs of ours left behind (processes, containers, networks, rules). */
  cleanupLeftovers(): Promise<void>;
  /** Starts every node and resolves once the deployment says the cluster is ready. */
  up(spec: ClusterSpec, signal?: AbortSignal): Promise<Cluster>;
}
