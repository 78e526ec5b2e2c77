// Plain-data types of the Raft protocol: log entries, persisted state,
// snapshots, messages and the Ready hand-off. Everything here is
// JSON-serializable so the wire format and the simulator can use it as is.

export type NodeId = string;

/**
 * A cluster configuration. `voters` is the (new) voting set. During joint
 * consensus `outgoing` holds C_old and every decision needs a majority of both
 * sets; otherwise `outgoing` is empty. Learners receive the log but never vote
 * and never count towards a quorum.
 */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly outgoing: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export type Entry =
  | { readonly index: number; readonly term: number; readonly kind: 'command'; readonly data: string }
  | { readonly index: number; readonly term: number; readonly kind: 'noop' }
  | { readonly index: number; readonly term: number; readonly kind: 'config'; readonly config: Membership };

/** The part of a node's state that must survive a crash (besides log and snapshot). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

/**
 * A snapshot replaces the log prefix up to and including `index`. `config` is
 * the configuration in force at `index`; `data` is the application's
 * serialized state machine as of `index`.
 */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly config: Membership;
  readonly data: string;
}

/** Everything a node needs to (re)start: what its disk holds. */
export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  /** Entries after snapshot.index, contiguous. */
  readonly entries: readonly Entry[];
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

export interface VoteRequest extends Envelope {
  readonly type: 'vote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

export interface VoteResponse extends Envelope {
  readonly type: 'voteResp';
  readonly granted: boolean;
}

export interface AppendRequest extends Envelope {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendResponse extends Envelope {
  readonly type: 'appendResp';
  readonly success: boolean;
  /** On success: the follower's log matches the leader's up to here. */
  readonly matchIndex: number;
  /** On rejection: the prevIndex that did not match (lets the leader drop stale rejections). */
  readonly rejectedIndex: number;
  /** On rejection: the leader should retry from hint + 1 (the follower's last index or conflict point). */
  readonly hint: number;
}

/** Leader liveness + commit propagation + ReadIndex confirmation. */
export interface HeartbeatRequest extends Envelope {
  readonly type: 'heartbeat';
  /** min(follower's match, leader's commit): never beyond what the follower holds. */
  readonly commit: number;
  /** Leader's heartbeat sequence number; echoed back to confirm leadership for reads. */
  readonly seq: number;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeatResp';
  readonly seq: number;
}

export interface SnapshotRequest extends Envelope {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

export type Message = VoteRequest | VoteResponse | AppendRequest | AppendResponse | HeartbeatRequest | HeartbeatResponse | SnapshotRequest;

export type Role = 'follower' | 'candidate' | 'leader';

/** A confirmed linearizable read: serve `ctx` once the applied index reaches `index`. */
export interface ReadState {
  readonly ctx: string;
  readonly index: number;
}

/**
 * What a node hands to its driver. The driver MUST, in this order:
 *  1. durably write `snapshot` (if any; it replaces the log up to its index),
 *     then `entries` (the first one's index truncates the stored log from there
 *     on before appending), then `hardState` (if any) — and fsync;
 *  2. only then send `messages` (a vote or an append acknowledgement promises
 *     that the state behind it survives a crash);
 *  3. restore the state machine from `snapshot` (if any), then apply
 *     `committedEntries` in order, then serve `readStates` whose index is applied;
 *  4. call `advance(ready)` before the next `tick`, `step` or proposal.
 */
export interface Ready {
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
}

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: string; readonly leader: NodeId | null };

export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  readonly config: Membership;
  readonly configIndex: number;
}
