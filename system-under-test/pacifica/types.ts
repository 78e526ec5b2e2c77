// Plain-data types of the PacificA data plane: one replication group's
// replicas, the messages between them, what they ask of the configuration
// manager (CM), and what they hand their driver to persist and send (a
// Ready-style `Output`, as in ../raft). No protocol code here touches sockets,
// files, clocks or randomness: time is passed in as a `Now`.

import type { GroupConfig, GroupLayout } from '../cm/state.js';

export type { GroupConfig, GroupLayout };

/** Seeded defects of the replica (see ../BUGS.md). */
export const PACIFICA_BUGS = ['read-without-lease', 'short-grace', 'commit-on-majority', 'no-reconciliation', 'wall-clock-lease', 'ack-before-fsync'] as const;
export type PacificaBug = (typeof PACIFICA_BUGS)[number];

/**
 * The time a replica is told at every step. `mono` is the monotonic clock
 * (never jumps; all lease arithmetic uses it); `wall` is the wall clock,
 * which an operator or NTP may jump. Units are the driver's (ticks in the
 * simulator, milliseconds in a process).
 */
export interface Now {
  readonly mono: number;
  readonly wall: number;
}

/** A value of a key: absent (null), a register value, or a list built by appends. */
export type KvValue = null | number | string | readonly (number | string)[];

export type ReadOp =
  | { readonly f: 'read'; readonly key: string }
  /** Several keys of one group, read at one commit point (the bank workload's snapshot read). */
  | { readonly f: 'read-many'; readonly keys: readonly string[] };
export type UpdateOp =
  | { readonly f: 'write'; readonly key: string; readonly value: number | string }
  | { readonly f: 'cas'; readonly key: string; readonly from: number | string | null; readonly to: number | string }
  | { readonly f: 'append'; readonly key: string; readonly value: number | string }
  /** Move `amount` from one numeric balance to another (absent = 0), both keys in one group. */
  | { readonly f: 'transfer'; readonly from: string; readonly to: string; readonly amount: number };
export type ClientOp = ReadOp | UpdateOp;

/** One prepared update. `(sn, version)` names it uniquely: one primary per version assigns each sn once. */
export interface LogEntry {
  readonly sn: number;
  /** The configuration version of the primary that assigned the serial number. */
  readonly version: number;
  /** Client request id (for the reply and for checkers). */
  readonly id: string;
  readonly op: UpdateOp;
}

/** The applied state up to `sn`: a checkpoint, and what a catching-up replica installs. */
export interface Checkpoint {
  readonly sn: number;
  /** Version of the entry at `sn` (0 for the empty checkpoint). */
  readonly version: number;
  readonly kv: Readonly<Record<string, KvValue>>;
}

/** What the driver must write durably (in order, then fsync) before sending `Output.messages`. */
export type PersistRecord =
  | { readonly kind: 'config'; readonly config: GroupConfig }
  | { readonly kind: 'entry'; readonly entry: LogEntry }
  /** Drop every stored entry with sn > after. */
  | { readonly kind: 'truncate'; readonly after: number }
  | { readonly kind: 'commit'; readonly sn: number }
  /** Replace the state up to checkpoint.sn (stored entries <= sn are dropped). */
  | { readonly kind: 'checkpoint'; readonly checkpoint: Checkpoint }
  /** We asked the CM to replace the primary of this version: never acknowledge it again, even after a restart. */
  | { readonly kind: 'deposing'; readonly version: number };

/** What a replica's disk holds; a restarted replica starts from it. */
export interface ReplicaDiskState {
  readonly config: GroupConfig | null;
  readonly checkpoint: Checkpoint;
  readonly entries: readonly LogEntry[];
  readonly commit: number;
  readonly deposing: number | null;
}

export const EMPTY_CHECKPOINT: Checkpoint = { sn: 0, version: 0, kv: {} };
export const EMPTY_DISK: ReplicaDiskState = { config: null, checkpoint: EMPTY_CHECKPOINT, entries: [], commit: 0, deposing: null };

export type ReplyError =
  /** Not the serving primary of the current configuration (definite: nothing was done). */
  | 'not-primary'
  /** The request's configuration version is not the replica's (definite). */
  | 'stale-version'
  /** cas: the value differed (definite: committed as a no-op). */
  | 'cas-mismatch'
  /** transfer: `from` would go negative (definite: committed as a no-op). */
  | 'insufficient'
  /** transfer: a balance holds something other than a number (definite: committed as a no-op). */
  | 'not-a-number'
  /** The request was malformed (refused by the server before the replica saw it). */
  | 'bad-request';

/** Messages between replicas, clients and the CM. Every replica message carries a configuration version. */
export type PMessage =
  /**
   * Primary -> secondary or learner. Carries the entries after `prevSn` up to the
   * primary's whole prepared log at send time (an empty list is a beacon), the
   * commit point, the primary's monotonic send time (echoed by the ack: the
   * lease clock), and a checkpoint when the receiver is behind the primary's.
   */
  | {
      readonly kind: 'prepare';
      readonly group: string;
      readonly config: GroupConfig;
      readonly prevSn: number;
      readonly prevVersion: number;
      readonly entries: readonly LogEntry[];
      readonly commit: number;
      readonly sentAt: number;
      readonly checkpoint: Checkpoint | null;
    }
  /** Secondary -> primary: `ok` with the durable matching prefix `match`, or a refusal with where to resend from. */
  | { readonly kind: 'ack'; readonly group: string; readonly version: number; readonly ok: boolean; readonly match: number; readonly sentAt: number }
  /** A replica that is not a member asks the primary to catch it up and add it. */
  | { readonly kind: 'join'; readonly group: string; readonly version: number }
  /** Client -> replica (the primary it believes in), with the version the client knows. */
  | { readonly kind: 'request'; readonly group: string; readonly id: string; readonly version: number; readonly op: ClientOp }
  /** Replica -> client. `sn`/`version` name the log entry of an update (for checkers). */
  | {
      readonly kind: 'reply';
      readonly group: string;
      readonly id: string;
      readonly ok: boolean;
      /** A read's value; a read-many's values by key. */
      readonly value?: KvValue | Readonly<Record<string, KvValue>>;
      readonly error?: ReplyError;
      readonly config?: GroupConfig;
      readonly sn?: number;
      readonly entryVersion?: number;
    }
  /** Replica -> CM: the compare-and-set on the group's version. */
  | { readonly kind: 'cm-reconfigure'; readonly group: string; readonly rid: string; readonly expectedVersion: number; readonly config: GroupLayout }
  /** Replica -> CM: what is the group's configuration? (a restarted replica asks before it serves) */
  | { readonly kind: 'cm-get'; readonly group: string; readonly rid: string }
  /** CM -> replica: the result (and the group's configuration either way); also pushed to every member on a change. */
  | { readonly kind: 'cm-config'; readonly group: string; readonly rid: string | null; readonly ok: boolean; readonly config: GroupConfig };

export interface Envelope {
  readonly from: string;
  readonly to: string;
  readonly msg: PMessage;
}

/**
 * What a replica hands its driver after a step, like Raft's Ready. The driver
 * must: (1) write `persist` in order and fsync; (2) only then send `messages`
 * and call `replica.persisted(output)`. `early` messages promise nothing
 * durable (beacons, their acks, refusals) and may be sent at once.
 */
export interface Output {
  readonly persist: readonly PersistRecord[];
  readonly messages: readonly Envelope[];
  readonly early: readonly Envelope[];
  /** The replica's log end once `persist` is durable (null: no log records in it). */
  readonly logEnd: number | null;
}
