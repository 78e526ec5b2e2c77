// The system protocol: what a system under test gives the harness, as
// Jepsen's db and client protocols do. An adapter (adapters/NAME/) is a plain
// value of type `SystemAdapter`; `deploy` turns the test's settings into a
// `Deployment`: the nodes and their roles, how each is launched (command line,
// environment, ports) on a provider, what its Docker image holds, when the
// cluster is ready, who holds which role now (so that faults can aim at a
// leader or a primary), the clients that carry out the workloads' ops, and
// optionally membership changes. The harness core, the providers, the
// nemesis and the workloads know systems only through these types.
//
// docs/adapters.md walks through a complete small adapter.

import type { Value } from '../../history/types.js';
import type { Client } from './client.js';
import type { Cluster, NodeInfo } from './provider.js';

/** One of the system's own options, set with `--opt KEY=VALUE`. */
export interface OptionSpec {
  readonly describe: string;
  /** The value when the option is not given. */
  readonly default: string;
  /** Allowed values, when there is a fixed set. */
  readonly choices?: readonly string[];
  /** Checks a value; returns what is wrong with it, or null. */
  readonly check?: (value: string) => string | null;
}

/** A seeded bug: a known, documented defect that a flag switches on, to prove a check catches it. */
export interface BugSpec {
  readonly name: string;
  readonly describe: string;
}

/** How partitions are cut on the local provider, where every node is on loopback. */
export type LocalPartitioning =
  /**
   * The node binds its outgoing connections to its own address, so packets
   * between two nodes carry the sender's address: rules match by source.
   */
  | 'source-address'
  /**
   * The node's outgoing connections leave from 127.0.0.1 whatever it listens
   * on (most programs: Go's dialer, say): each node runs as a user of its
   * own, and rules match the sender by owner (OUTPUT) and the receiver by
   * address.
   */
  | 'owner';

export interface Capabilities {
  /** Fault kinds the system can take (a fault it cannot take is refused in one line). */
  readonly faults: readonly string[];
  /** Workloads its clients can carry out. */
  readonly workloads: readonly string[];
  /** Why a fault kind is refused, for the one-line refusal (e.g. clock faults on a Go program). */
  readonly refusals?: Readonly<Record<string, string>>;
}

/** What a test asks of the system; `deploy` checks it and says what is wrong in one line (InputError). */
export interface DeploySettings {
  /** Nodes: the system's main role (data servers, members); other roles come from its options. */
  readonly nodes: number;
  /** Seeded bugs to switch on (names from `bugs`). */
  readonly bugs: readonly string[];
  /** `--opt KEY=VALUE` pairs, checked against `options`. */
  readonly options: Readonly<Record<string, string>>;
  /** The workload the test runs (one of `capabilities.workloads`). */
  readonly workload: string;
}

export interface LaunchContext {
  /** Which provider starts it: `local` (argv[0] a program on this machine) or `docker` (inside the image). */
  readonly provider: string;
  readonly node: NodeInfo;
  /** Every node of the cluster, with its address. */
  readonly nodes: readonly NodeInfo[];
  /** Where its data lives, as the node sees it. */
  readonly dataDir: string;
  /** The node starts on an empty data dir to join a running cluster (a membership change), not to bootstrap one. */
  readonly join: boolean;
}

export interface Launch {
  /** argv[0] is the program. */
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /**
   * On the local provider, whether the node inherits the harness's
   * environment (default true); false gives it PATH and `env` alone (etcd
   * reads ETCD_* variables as flags, so a stray one would change the test).
   */
  readonly inheritEnv?: boolean;
}

/** What the system's offline Docker image holds (docker/image.ts builds it with docker import, no registry). */
export interface ImageSpec {
  /** The image's repository name (undertow-NAME); its tag is a hash of what it holds. */
  readonly name: string;
  /** Programs of this machine copied in at the same path, with every library ldd says they load. */
  readonly binaries: readonly string[];
  /**
   * For a system written in this project (the reference system): the image
   * also holds its built folder (IMAGE_PROJECT/dist/FOLDER), the runtime
   * node_modules it imports, and Node at IMAGE_NODE; ENTRY (relative to the
   * folder) is the image's entry point; DOCKERFILE (relative to the project)
   * builds the same image from a registry's Node image, where one is reachable.
   */
  readonly project?: { readonly folder: string; readonly entry: string; readonly dockerfile: string };
}

/** Where an image with `project` holds the project's build, and Node. */
export const IMAGE_PROJECT = '/app';
export const IMAGE_NODE = '/usr/bin/node';

/** A replication group: who serves it now. A single-group system has one (its leader and followers). */
export interface GroupRoles {
  readonly group: string;
  readonly primary: string;
  readonly secondaries: readonly string[];
}

/** The harness's questions about the cluster as it runs: readiness and roles. */
export interface SystemView {
  /** Ready for a test: every node serving as it should (a leader, every group fully replicated). */
  ready(): Promise<boolean>;
  /** The node that leads the cluster now (the CM leader, the Raft leader), or null when none is known. */
  leader(): Promise<string | null>;
  /** Every replication group with its primary and secondaries now, or null when the system cannot say. */
  groups(): Promise<GroupRoles[] | null>;
  close(): void;
}

/** What the membership fault asks of the system; the values of its ops say exactly what was done. */
export interface MembershipFaults {
  /** Nodes out of the membership and not yet back, with their target. */
  readonly removed: ReadonlyMap<string, string>;
  remove(target: string): Promise<Value>;
  /** Brings back a node taken out by `target` (any target when undefined). */
  add(target: string | undefined): Promise<Value>;
  /** Brings every removed node back and waits (up to `waitMs`) for full membership. */
  restoreAll(waitMs: number): Promise<Value>;
}

export interface MembershipContext {
  readonly cluster: Cluster;
  readonly view: SystemView;
  /** Picks one of `xs` (the nemesis's seeded random). */
  readonly pick: <T>(xs: readonly T[]) => T;
  /** Nodes other faults hold (killed, paused): not chosen. */
  readonly busy: () => ReadonlySet<string>;
}

export interface ClientOptions {
  /** Every node of the cluster. */
  readonly nodes: readonly NodeInfo[];
  /** How long one op may take before the worker records it as `info`; a client should give up a little earlier. */
  readonly opTimeoutMs: number;
  /** The workload's own settings (its `options`: the bank's accounts, say). */
  readonly workloadOptions: Readonly<Record<string, unknown>>;
}

/** A pattern that must never appear in a node's log (a crash, a failed assertion): a match makes the run invalid. */
export interface LogPattern {
  readonly pattern: RegExp;
  /** What a match means, for the report: "a failed assertion". */
  readonly what: string;
  /** Only the logs of nodes of these roles (default: every node's). */
  readonly roles?: readonly string[];
}

/** One node's log after the run: RUN/nodes/NODE/NODE.log, every incarnation of the node appended. */
export interface NodeLog {
  readonly node: string;
  readonly role: string;
  /** The file's lines; line n of the file is lines[n - 1]. */
  readonly lines: readonly string[];
}

export interface NodeLogContext {
  /** Which provider ran the nodes (`local`, `docker`): whether they shared one host's clocks. */
  readonly provider: string;
  /** The fault kinds of the run (e.g. whether clock faults ran). */
  readonly faults: readonly string[];
  /** The test's time 0 (the history's clock) on the harness host's CLOCK_MONOTONIC, in ms: to say when, in test time, a log line's monotonic instant was. */
  readonly monoStartMs?: number;
  /** The nodes whose data files a `corrupt` fault damaged during the run. */
  readonly corrupted?: readonly string[];
}

/** An anomaly found in the nodes' logs: certain, never a guess (it makes the run invalid). */
export interface LogAnomaly {
  /** A short kind: "two-primaries", say. */
  readonly kind: string;
  /** One sentence: who, what, when. */
  readonly what: string;
  /** Where it shows, as node and line number (1-based) of its log. */
  readonly at?: readonly { readonly node: string; readonly line: number }[];
}

/** What the system's own logs say about a run. */
export interface LogFindings {
  /** What the faults achieved that only the system knows, by name (e.g. leaseExpiries: 3); shown under coverage. */
  readonly counts?: Readonly<Record<string, number>>;
  readonly anomalies?: readonly LogAnomaly[];
  /** What was checked and what was not (and why), one sentence each. */
  readonly notes?: readonly string[];
}

/** The system's checks over its nodes' logs after a run (Jepsen's log-file-pattern checker, and more). */
export interface LogChecks {
  /** Patterns that must never appear. */
  readonly never: readonly LogPattern[];
  /**
   * The line a node writes when it refuses to start on damaged data. On a node
   * a `corrupt` fault damaged, a never-pattern line that is also this one is
   * the system doing right (fail-stop on corruption it detected): a note, not
   * a failure. Anywhere else it still fails the run.
   */
  readonly refusesCorruption?: RegExp;
  /** Reads every node's log: counts (lease expiries, elections) and certain anomalies (two primaries at once). */
  analyze?(logs: readonly NodeLog[], ctx: NodeLogContext): LogFindings;
}

export interface Deployment {
  /** The nodes, in start order, with their roles. */
  readonly nodes: readonly { readonly name: string; readonly role: string }[];
  /** The ports every node listens on, of its own host: `client` for clients, `peer` between nodes. */
  readonly ports: { readonly client: number; readonly peer?: number };
  /** How the local provider's partitions tell its nodes apart. */
  readonly localPartitioning: LocalPartitioning;
  /** The command line of a node. */
  launch(ctx: LaunchContext): Launch;
  readonly image: ImageSpec;
  /** The roles whose nodes a `random` target or a partition may pick (default: every node). */
  readonly faultRoles?: readonly string[];
  /** Ask the cluster how it is (readiness, roles). */
  view(nodes: readonly NodeInfo[]): SystemView;
  /** The addresses worker processes open their clients against (process p gets the (p mod n)-th). */
  clientNodes(nodes: readonly NodeInfo[]): readonly string[];
  /** A new, unopened client for one process of `workload`. */
  client(workload: string, o: ClientOptions): Client;
  /** The membership fault, for systems that have one. */
  readonly membership?: {
    /** What `member-remove` can take out (e.g. data, cm); the fault schedule draws one. */
    readonly targets: readonly string[];
    /** The fault's ops on a running cluster. */
    faults(ctx: MembershipContext): MembershipFaults;
  };
  /** Checks over the nodes' logs after the run, and what they say the faults achieved. */
  readonly logChecks?: LogChecks;
  /** The settings as resolved (options with defaults): recorded in test.json. */
  readonly settings: Readonly<Record<string, Value>>;
  /** The system in one process in virtual time (`--provider sim`), for systems that can be simulated. */
  readonly simulate?: (o: SimulationSpec) => SimulatedCluster;
}

/** What a simulated cluster is made from: everything it draws comes from `seed`. */
export interface SimulationSpec {
  readonly seed: number;
  readonly workload: string;
  readonly workloadOptions: Readonly<Record<string, unknown>>;
  readonly opTimeoutMs: number;
  /** The fault kinds the test uses (a simulation refuses those it cannot model). */
  readonly faults: readonly string[];
  /** What packet faults may draw (--packet). */
  readonly packet: readonly string[];
}

/**
 * A system running in virtual time: the nemesis acts on it through the same
 * Cluster interface as on real nodes (each call takes effect at the current
 * virtual instant), and clients are the same Client interface. Time moves
 * only when `advance` is called.
 */
export interface SimulatedCluster {
  readonly cluster: Cluster;
  readonly view: SystemView;
  /** Virtual nanoseconds since the simulation began. */
  now(): number;
  /** Runs the world up to `ns` (rounded up to its resolution); true if some client operation finished meanwhile. */
  advance(ns: number): boolean;
  /** Runs the world until the system is ready for a test (the bootstrap); false if it was not by `limitNs`. */
  boot(limitNs: number): boolean;
  newClient(): Client;
  /** A digest of everything that happened in the world (equal seeds, equal digests). */
  trace(): string;
  /** The nodes that stopped on a failed protocol invariant (fail-stop): a run with any is invalid. */
  fatals(): readonly { readonly node: string; readonly atNs: number; readonly message: string }[];
  /** The membership fault in virtual time, for systems that have one (its ops take virtual time: the driver does not wait at one instant). */
  readonly membership?: (ctx: MembershipContext) => MembershipFaults;
  /** Nodes that refused to start (their own check found their disk corrupt): they stay down; not a protocol failure. */
  stops?(): readonly { readonly node: string; readonly atNs: number; readonly message: string }[];
  /**
   * White-box properties the simulation checks as it runs (the reference's acked-write, say), and what broke
   * them: recorded only (the node goes on, the run is unchanged), each makes the run invalid.
   */
  violations?(): readonly { readonly node: string; readonly atNs: number; readonly property: string; readonly message: string }[];
  /** The names of the properties `violations` checks (for the run's notes). */
  readonly properties?: readonly string[];
  /** Counters for the run's record. */
  stats(): Readonly<Record<string, number>>;
}

export interface SystemAdapter {
  /** The name `--system` takes. */
  readonly name: string;
  /** One line for `--help` and the README's table. */
  readonly summary: string;
  /** Its `--opt` keys; an unknown key is refused in one line. */
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly bugs: readonly BugSpec[];
  readonly capabilities: Capabilities;
  /** Checks the settings (one-line InputErrors) and describes the cluster to start. */
  deploy(settings: DeploySettings): Deployment;
}
