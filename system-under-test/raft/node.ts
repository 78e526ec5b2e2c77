// A Raft node as a pure state machine, in the style of etcd-io/raft:
//   tick()            one unit of logical time (election / heartbeat timers)
//   step(msg)         a message from a peer
//   propose(data)     a client command (leader only)
//   readIndex(ctx)    a linearizable read (leader only)
//   changeMembership  joint-consensus reconfiguration (leader only)
//   ready()/advance() hand the driver what to persist, send and apply
// No I/O, no clocks, no Math.random: the driver owns all of that, and the
// randomness of election timeouts comes from the injected seeded `Prng`.
//
// The Ready contract (see types.ts) is what makes "fsync before answering"
// hold: a vote or an append acknowledgement only leaves the node as a message
// of a Ready, and the driver sends those only after writing the Ready's state.

import { invariant } from '../util/invariant.js';
import type { Prng } from '../util/prng.js';
import { RaftLog } from './log.js';
import { hasQuorum, isJoint, isVoter, quorumIndex, replicasOf, sameSet, sorted, voteOutcome, votersOf } from './membership.js';
import type {
  AppendRequest,
  AppendResponse,
  Entry,
  HardState,
  HeartbeatRequest,
  HeartbeatResponse,
  Membership,
  Message,
  NodeId,
  PersistedState,
  ProposeResult,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SnapshotRequest,
  Status,
  VoteRequest,
  VoteResponse,
} from './types.js';

/** Seeded defects that can be switched on to prove the checks catch them (see ../BUGS.md). */
export const RAFT_BUGS = ['vote-twice'] as const;

export interface RaftOptions {
  readonly id: NodeId;
  /** What the node's disk holds (see `initialState` / `joiningState` for a first start). */
  readonly state: PersistedState;
  readonly random: Prng;
  /** Minimum election timeout in ticks; the actual one is drawn from [e, 2e). */
  readonly electionTicks?: number;
  /** Leader heartbeat interval in ticks; must be well below electionTicks. */
  readonly heartbeatTicks?: number;
  readonly maxEntriesPerAppend?: number;
  readonly bugs?: ReadonlySet<string>;
}

/** The disk of a founding member before its first start. */
export function initialState(voters: readonly NodeId[]): PersistedState {
  return {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshot: { index: 0, term: 0, config: { voters: sorted(voters), outgoing: [], learners: [] }, data: '' },
    entries: [],
  };
}

/** The disk of a server that will join an existing cluster: no configuration, so it never campaigns until it learns one. */
export function joiningState(): PersistedState {
  return {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshot: { index: 0, term: 0, config: { voters: [], outgoing: [], learners: [] }, data: '' },
    entries: [],
  };
}

type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The leader's view of one follower or learner. */
interface Progress {
  match: number;
  next: number;
  /** probe: one append at a time until the follower's position is found; replicate: pipelined; snapshot: waiting for InstallSnapshot to land. */
  state: ProgressState;
  /** In probe state: an append is in flight, wait for its answer or the next heartbeat. */
  paused: boolean;
  pendingSnapshot: number;
  snapshotTicks: number;
  /** Heard from within the current check-quorum window. */
  recentActive: boolean;
  /** Highest heartbeat sequence number acknowledged (ReadIndex confirmation). */
  ackedSeq: number;
  /** Stall detection in replicate state: ticks since match last moved. */
  stallMatch: number;
  stallTicks: number;
}

interface PendingRead {
  readonly ctx: string;
  readonly index: number;
  readonly seq: number;
}

export type ChangeResult = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly leader: NodeId | null };

export class RaftNode {
  readonly id: NodeId;
  private readonly random: Prng;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly maxEntries: number;
  private readonly bugs: ReadonlySet<string>;

  // Persistent (through Ready.hardState).
  private term: number;
  private vote: NodeId | null;
  private commit: number;

  private applied: number;
  private role: Role = 'follower';
  private leader: NodeId | null = null;
  private readonly log: RaftLog;
  private config!: Membership;
  private configIndex = 0;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private electionTimeout = 0;

  private votes = new Map<NodeId, boolean>();
  private progress = new Map<NodeId, Progress>();
  private pendingReads: PendingRead[] = [];
  private heartbeatSeq = 0;
  /** Target voter set of a membership change this leader is driving. */
  private pendingMembership: NodeId[] | null = null;

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private persistedHardState: HardState;
  /** A snapshot received from the leader, not yet handed out in a Ready. */
  private receivedSnapshot: Snapshot | null = null;
  private readyInFlight = false;

  constructor(opts: RaftOptions) {
    this.id = opts.id;
    this.random = opts.random;
    this.electionTicks = opts.electionTicks ?? 10;
    this.heartbeatTicks = opts.heartbeatTicks ?? 2;
    this.maxEntries = opts.maxEntriesPerAppend ?? 64;
    this.bugs = opts.bugs ?? new Set();
    invariant(this.heartbeatTicks >= 1 && this.heartbeatTicks < this.electionTicks, 'heartbeatTicks must be in [1, electionTicks)');

    const { hardState, snapshot, entries } = opts.state;
    this.log = new RaftLog(snapshot, entries);
    invariant(hardState.commit <= this.log.lastIndex(), () => `restart: persisted commit ${hardState.commit} beyond persisted log ${this.log.lastIndex()}`);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.commit = Math.max(hardState.commit, snapshot.index);
    this.applied = snapshot.index;
    this.persistedHardState = hardState;
    this.refreshConfig();
    this.resetElectionTimeout();
  }

  // ---------------------------------------------------------------- inputs

  tick(): void {
    this.checkNotInReady('tick');
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  step(m: Message): void {
    this.checkNotInReady('step');
    invariant(m.to === this.id, () => `${this.id} got a message for ${m.to}`);
    if (m.term > this.term) {
      if (m.type === 'vote' && this.inLease()) {
        // Raft §4.2.3: a server that heard from a current leader within the
        // minimum election timeout ignores RequestVote, so a removed or
        // partitioned server cannot depose a healthy leader.
        return;
      }
      const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
      this.becomeFollower(m.term, fromLeader ? m.from : null);
    } else if (m.term < this.term) {
      // Tell a stale leader or candidate about the newer term so it steps down.
      if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.send({ type: 'appendResp', from: this.id, to: m.from, term: this.term, success: false, matchIndex: 0, rejectedIndex: -1, hint: 0 });
      } else if (m.type === 'vote') {
        this.send({ type: 'voteResp', from: this.id, to: m.from, term: this.term, granted: false });
      }
      return;
    }

    switch (m.type) {
      case 'vote':
        return this.handleVote(m);
      case 'voteResp':
        return this.handleVoteResponse(m);
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        invariant(this.role !== 'leader', () => `election safety: ${this.id} is leader of term ${this.term} and got ${m.type} from ${m.from} in the same term`);
        if (this.role === 'candidate') this.becomeFollower(this.term, m.from);
        this.leader = m.from;
        this.electionElapsed = 0;
        if (m.type === 'append') return this.handleAppend(m);
        if (m.type === 'heartbeat') return this.handleHeartbeat(m);
        return this.handleSnapshot(m);
      case 'appendResp':
        if (this.role === 'leader') this.handleAppendResponse(m);
        return;
      case 'heartbeatResp':
        if (this.role === 'leader') this.handleHeartbeatResponse(m);
        return;
    }
  }

  propose(data: string): ProposeResult {
    this.checkNotInReady('propose');
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.leader };
    const e = this.appendLocal({ kind: 'command', data });
    this.bcastAppend();
    return { ok: true, index: e.index, term: e.term };
  }

  /**
   * Start a linearizable read (Raft §6.4). The leader records its commit index
   * as the read index and confirms it is still leader with a heartbeat round;
   * a ReadState appears in a later Ready. Serve the read once the state
   * machine has applied at least that index.
   */
  readIndex(ctx: string): ChangeResult {
    this.checkNotInReady('readIndex');
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.leader };
    // Until an entry of its own term is committed the leader does not know the
    // true commit index (it may lag the previous leader's).
    if (this.log.term(this.commit) !== this.term) return { ok: false, reason: 'leader-not-ready', leader: this.id };
    this.pendingReads.push({ ctx, index: this.commit, seq: ++this.heartbeatSeq });
    this.bcastHeartbeat();
    this.confirmReads();
    return { ok: true };
  }

  /**
   * Change the voting set to `voters` by joint consensus. Servers not yet in
   * the configuration first join as learners; once every one of them has
   * caught up to the commit index, the leader appends C_old,new, and once
   * that commits, C_new. Learners not in `voters` are dropped. One change at
   * a time; a new leader finishes a joint configuration it inherits.
   */
  changeMembership(voters: readonly NodeId[]): ChangeResult {
    this.checkNotInReady('changeMembership');
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.leader };
    const target = sorted(new Set(voters));
    if (target.length === 0) return { ok: false, reason: 'empty-configuration', leader: this.id };
    if (this.pendingMembership !== null || isJoint(this.config) || this.configIndex > this.commit) {
      return { ok: false, reason: 'membership-change-in-progress', leader: this.id };
    }
    if (this.log.term(this.commit) !== this.term) return { ok: false, reason: 'leader-not-ready', leader: this.id };
    this.pendingMembership = target;
    this.driveMembership();
    return { ok: true };
  }

  /**
   * Compact the log up to `index` (which must be applied and durable), with
   * `data` the state machine serialized as of `index`. The driver must write
   * the returned snapshot to disk and may then drop the entries it covers.
   */
  compact(index: number, data: string): Snapshot {
    this.checkNotInReady('compact');
    invariant(index <= this.applied, () => `compact(${index}) beyond applied ${this.applied}`);
    const term = this.log.term(index);
    invariant(term !== undefined, () => `compact(${index}): entry not held`);
    const snap: Snapshot = { index, term, config: this.log.configAt(index).config, data };
    this.log.compact(snap);
    return snap;
  }

  // ---------------------------------------------------------------- Ready

  hasReady(): boolean {
    return (
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.receivedSnapshot !== null ||
      this.log.stableIndex() < this.log.lastIndex() ||
      this.commit > this.applied ||
      !sameHardState(this.hardState(), this.persistedHardState)
    );
  }

  ready(): Ready {
    this.checkNotInReady('ready');
    const hs = this.hardState();
    const base = this.receivedSnapshot !== null ? this.receivedSnapshot.index : this.applied;
    const rd: Ready = {
      hardState: sameHardState(hs, this.persistedHardState) ? null : hs,
      snapshot: this.receivedSnapshot,
      entries: this.log.unstableEntries(),
      committedEntries: this.commit > base ? this.log.slice(base + 1, this.commit) : [],
      messages: this.msgs,
      readStates: this.readStates,
    };
    this.msgs = [];
    this.readStates = [];
    this.readyInFlight = true;
    return rd;
  }

  /** The driver has persisted, sent and applied `rd` as the contract says. */
  advance(rd: Ready): void {
    invariant(this.readyInFlight, 'advance without a Ready in flight');
    this.readyInFlight = false;
    if (rd.hardState !== null) this.persistedHardState = rd.hardState;
    if (rd.snapshot !== null) {
      if (this.receivedSnapshot === rd.snapshot) this.receivedSnapshot = null;
      this.applied = Math.max(this.applied, rd.snapshot.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      this.log.markStable(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1].index;
      invariant(last <= this.commit && last > this.applied, () => `advance: applied ${last} outside (${this.applied}, commit ${this.commit}]`);
      this.applied = last;
    }
    // The leader counts itself towards a quorum only for entries on its own disk.
    if (this.role === 'leader') this.maybeCommit();
  }

  // ---------------------------------------------------------------- queries

  status(): Status {
    const snap = this.log.snapshot();
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.commit,
      applied: this.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      snapshotIndex: snap.index,
      snapshotTerm: snap.term,
      config: this.config,
      configIndex: this.configIndex,
    };
  }

  /** Term of log entry i (undefined if compacted or beyond the log); for checkers. */
  logTerm(i: number): number | undefined {
    return this.log.term(i);
  }

  /** Entries lo..hi that this node holds; for checkers. */
  logEntries(lo: number, hi: number): Entry[] {
    return this.log.slice(Math.max(lo, this.log.firstIndex()), Math.min(hi, this.log.lastIndex()));
  }

  snapshot(): Snapshot {
    return this.log.snapshot();
  }

  // ---------------------------------------------------------------- roles

  private becomeFollower(term: number, leader: NodeId | null): void {
    invariant(term >= this.term, () => `${this.id}: term would go back from ${this.term} to ${term}`);
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    this.role = 'follower';
    this.leader = leader;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetElectionTimeout();
    this.votes.clear();
    this.progress.clear();
    this.pendingReads = []; // their clients time out and retry elsewhere
    this.pendingMembership = null;
  }

  private campaign(): void {
    this.term += 1;
    this.vote = this.id;
    this.role = 'candidate';
    this.leader = null;
    this.electionElapsed = 0;
    this.resetElectionTimeout();
    this.progress.clear();
    this.pendingReads = [];
    this.pendingMembership = null;
    this.votes = new Map([[this.id, true]]);
    if (voteOutcome(this.config, this.votes) === 'won') {
      this.becomeLeader();
      return;
    }
    for (const peer of votersOf(this.config)) {
      if (peer === this.id) continue;
      this.send({ type: 'vote', from: this.id, to: peer, term: this.term, lastLogIndex: this.log.lastIndex(), lastLogTerm: this.log.lastTerm() });
    }
  }

  private becomeLeader(): void {
    invariant(this.role === 'candidate', 'only a candidate becomes leader');
    this.role = 'leader';
    this.leader = this.id;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.votes.clear();
    this.progress.clear();
    this.syncProgress();
    // An entry of the new term: committing it commits everything before it
    // (Raft §5.4.2) and lets ReadIndex trust the commit index.
    this.appendLocal({ kind: 'noop' });
    this.bcastAppend();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout && isVoter(this.config, this.id)) this.campaign();
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const p of this.progress.values()) {
      if (p.state === 'snapshot') p.snapshotTicks++;
      // A pipelined follower whose match has not moved for half an election
      // timeout while it lags may have lost appends: resend from its match.
      if (p.state === 'replicate' && p.match < this.log.lastIndex()) {
        if (p.match !== p.stallMatch) {
          p.stallMatch = p.match;
          p.stallTicks = 0;
        } else if (++p.stallTicks >= Math.max(this.heartbeatTicks, this.electionTicks >> 1)) {
          p.state = 'probe';
          p.next = p.match + 1;
          p.paused = false;
          p.stallTicks = 0;
        }
      } else {
        p.stallTicks = 0;
      }
    }
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      // Check-quorum: a leader that has not heard from a majority (of both
      // sets, if joint) within an election timeout steps down, so a leader cut
      // off by a partition stops serving reads and the lease rule stays sound.
      const active = hasQuorum(this.config, (id) => id === this.id || this.progress.get(id)?.recentActive === true);
      for (const p of this.progress.values()) p.recentActive = false;
      if (!active) {
        this.becomeFollower(this.term, null);
        return;
      }
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
    this.driveMembership();
  }

  private inLease(): boolean {
    if (this.role === 'leader') return true; // check-quorum keeps this honest
    return this.leader !== null && this.electionElapsed < this.electionTicks;
  }

  private resetElectionTimeout(): void {
    this.electionTimeout = this.electionTicks + this.random.int(0, this.electionTicks - 1);
  }

  // ---------------------------------------------------------------- voting

  private handleVote(m: VoteRequest): void {
    // Election safety rests on this: at most one vote per term, and it is
    // persisted (Ready.hardState) before the grant is sent.
    const canVote = this.vote === m.from || (this.vote === null && this.leader === null) || this.bugs.has('vote-twice');
    const upToDate = m.lastLogTerm > this.log.lastTerm() || (m.lastLogTerm === this.log.lastTerm() && m.lastLogIndex >= this.log.lastIndex());
    const granted = canVote && upToDate;
    if (granted) {
      this.vote = m.from;
      this.electionElapsed = 0;
    }
    this.send({ type: 'voteResp', from: this.id, to: m.from, term: this.term, granted });
  }

  private handleVoteResponse(m: VoteResponse): void {
    if (this.role !== 'candidate') return;
    if (!isVoter(this.config, m.from)) return;
    this.votes.set(m.from, m.granted);
    const outcome = voteOutcome(this.config, this.votes);
    if (outcome === 'won') this.becomeLeader();
    else if (outcome === 'lost') this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------- follower side

  private handleAppend(m: AppendRequest): void {
    if (m.prevIndex < this.commit) {
      // Everything up to our commit index is committed, hence in the leader's
      // log (leader completeness): check what overlaps, then ack up to commit.
      for (const e of m.entries) {
        if (e.index > this.commit) break;
        const t = this.log.term(e.index);
        invariant(
          t === undefined || t === e.term,
          () => `${this.id}: leader ${m.from} (term ${m.term}) sends ${e.index}/${e.term} but ${e.index}/${t} is committed here`,
        );
      }
      this.ackAppend(m.from, this.commit);
      return;
    }
    const have = this.log.term(m.prevIndex);
    if (have !== m.prevTerm) {
      invariant(
        m.prevIndex > this.commit,
        () => `${this.id}: leader ${m.from} (term ${m.term}) has ${m.prevIndex}/${m.prevTerm} but ${m.prevIndex}/${have} is committed here`,
      );
      let hint: number;
      if (have === undefined) {
        hint = this.log.lastIndex(); // our log is shorter
      } else {
        // Skip back over the whole conflicting term in one round trip.
        hint = m.prevIndex - 1;
        while (hint > this.commit && this.log.term(hint) === have) hint--;
      }
      this.send({ type: 'appendResp', from: this.id, to: m.from, term: this.term, success: false, matchIndex: 0, rejectedIndex: m.prevIndex, hint });
      return;
    }
    let k = 0;
    for (; k < m.entries.length; k++) {
      const e = m.entries[k];
      const t = this.log.term(e.index);
      if (t === undefined) break;
      if (t !== e.term) {
        invariant(
          e.index > this.commit,
          () => `${this.id}: append from ${m.from} (term ${m.term}) would truncate committed entry ${e.index} (commit ${this.commit})`,
        );
        break;
      }
    }
    if (k < m.entries.length) {
      const rest = m.entries.slice(k);
      const truncatesConfig = rest[0].index <= this.configIndex;
      this.log.truncateAndAppend(rest);
      if (truncatesConfig || rest.some((e) => e.kind === 'config')) this.refreshConfig();
    }
    const lastNew = m.prevIndex + m.entries.length;
    this.commitTo(Math.min(m.commit, lastNew));
    this.ackAppend(m.from, lastNew);
  }

  private handleHeartbeat(m: HeartbeatRequest): void {
    // The leader only sends commit <= our acknowledged match, so we hold it.
    this.commitTo(m.commit);
    this.send({ type: 'heartbeatResp', from: this.id, to: m.from, term: this.term, seq: m.seq });
  }

  private handleSnapshot(m: SnapshotRequest): void {
    const s = m.snapshot;
    if (s.index <= this.commit) {
      this.ackAppend(m.from, this.commit);
      return;
    }
    if (this.log.term(s.index) === s.term) {
      // We already hold the snapshot's last entry: keep the log after it.
      this.commitTo(s.index);
      this.ackAppend(m.from, s.index);
      return;
    }
    this.log.restore(s);
    this.commit = s.index;
    this.receivedSnapshot = s;
    this.refreshConfig();
    this.ackAppend(m.from, s.index);
  }

  private ackAppend(to: NodeId, matchIndex: number): void {
    this.send({ type: 'appendResp', from: this.id, to, term: this.term, success: true, matchIndex, rejectedIndex: 0, hint: 0 });
  }

  private commitTo(n: number): void {
    if (n <= this.commit) return;
    invariant(n <= this.log.lastIndex(), () => `${this.id}: commit ${n} beyond last index ${this.log.lastIndex()}`);
    this.commit = n;
  }

  // ---------------------------------------------------------------- leader side

  private appendLocal(e: { kind: 'command'; data: string } | { kind: 'noop' } | { kind: 'config'; config: Membership }): Entry {
    invariant(this.role === 'leader', 'only a leader appends to its own log');
    const entry = { ...e, index: this.log.lastIndex() + 1, term: this.term } as Entry;
    this.log.append([entry]);
    if (entry.kind === 'config') this.refreshConfig();
    return entry;
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) this.sendAppend(id, true);
  }

  private bcastHeartbeat(): void {
    for (const [id, p] of this.progress) {
      if (p.state === 'probe') p.paused = false;
      this.send({ type: 'heartbeat', from: this.id, to: id, term: this.term, commit: Math.min(p.match, this.commit), seq: this.heartbeatSeq });
    }
  }

  private sendAppend(to: NodeId, allowEmpty: boolean): void {
    const p = this.progress.get(to);
    invariant(p !== undefined, () => `no progress for ${to}`);
    if (p.state === 'snapshot') {
      if (p.snapshotTicks >= this.electionTicks) this.sendSnapshot(to, p); // presumed lost
      return;
    }
    if (p.state === 'probe' && p.paused) return;
    invariant(p.next >= 1 && p.next <= this.log.lastIndex() + 1, () => `progress of ${to}: next ${p.next} outside [1, ${this.log.lastIndex() + 1}]`);
    const prevIndex = p.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      this.sendSnapshot(to, p); // the entries it needs are compacted away
      return;
    }
    const last = Math.min(this.log.lastIndex(), prevIndex + this.maxEntries);
    const entries = this.log.slice(p.next, last);
    if (entries.length === 0 && !allowEmpty) return;
    this.send({ type: 'append', from: this.id, to, term: this.term, prevIndex, prevTerm, entries, commit: this.commit });
    if (p.state === 'replicate') p.next = last + 1;
    else p.paused = true;
  }

  private sendSnapshot(to: NodeId, p: Progress): void {
    const snapshot = this.log.snapshot();
    this.send({ type: 'snapshot', from: this.id, to, term: this.term, snapshot });
    p.state = 'snapshot';
    p.pendingSnapshot = snapshot.index;
    p.snapshotTicks = 0;
  }

  private handleAppendResponse(m: AppendResponse): void {
    const p = this.progress.get(m.from);
    if (p === undefined) return;
    p.recentActive = true;
    if (m.success) {
      invariant(
        m.matchIndex <= this.log.lastIndex(),
        () => `log matching: ${m.from} claims match ${m.matchIndex} beyond leader ${this.id}'s last index ${this.log.lastIndex()} in term ${this.term}`,
      );
      if (m.matchIndex > p.match) p.match = m.matchIndex;
      if (p.next <= p.match) p.next = p.match + 1;
      if (p.state !== 'snapshot' || p.match >= p.pendingSnapshot) p.state = 'replicate';
      p.paused = false;
      this.maybeCommit();
      // Committing may have stepped us down (not in C_new) or removed this peer.
      if (this.role !== 'leader' || this.progress.get(m.from) !== p) return;
      if (p.next <= this.log.lastIndex()) this.sendAppend(m.from, false);
      this.driveMembership();
    } else {
      if (m.rejectedIndex <= p.match || p.state === 'snapshot') return; // stale
      p.state = 'probe';
      p.paused = false;
      p.next = Math.max(p.match + 1, Math.min(m.rejectedIndex, m.hint + 1));
      this.sendAppend(m.from, true);
    }
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const p = this.progress.get(m.from);
    if (p === undefined) return;
    p.recentActive = true;
    if (m.seq > p.ackedSeq) p.ackedSeq = m.seq;
    // Send even with nothing new (as etcd does): a follower or learner whose
    // first, empty probe was lost would otherwise wait for the next proposal.
    if (p.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    this.confirmReads();
  }

  private confirmReads(): void {
    while (this.pendingReads.length > 0) {
      const r = this.pendingReads[0];
      const confirmed = hasQuorum(this.config, (id) => id === this.id || (this.progress.get(id)?.ackedSeq ?? 0) >= r.seq);
      if (!confirmed) return;
      this.pendingReads.shift();
      this.readStates.push({ ctx: r.ctx, index: r.index });
    }
  }

  private maybeCommit(): void {
    const n = quorumIndex(this.config, (id) => (id === this.id ? this.log.stableIndex() : (this.progress.get(id)?.match ?? 0)));
    // Raft §5.4.2: only entries of the current term are committed by counting
    // replicas; earlier ones are committed indirectly by the Log Matching property.
    if (n <= this.commit || this.log.term(n) !== this.term) return;
    this.commitTo(n);
    this.bcastAppend(); // tell followers the new commit index
    if (!isJoint(this.config) && this.configIndex <= this.commit && !this.config.voters.includes(this.id)) {
      // Raft §6: a leader that is not part of C_new steps down once C_new is committed.
      this.becomeFollower(this.term, null);
      return;
    }
    this.driveMembership();
  }

  /** Move a membership change forward one step when the previous one has committed. */
  private driveMembership(): void {
    if (this.role !== 'leader' || this.configIndex > this.commit) return;
    const c = this.config;
    if (isJoint(c)) {
      // C_old,new is committed: now C_new alone.
      this.appendLocal({ kind: 'config', config: { voters: c.voters, outgoing: [], learners: c.learners } });
      this.bcastAppend();
      return;
    }
    const target = this.pendingMembership;
    if (target === null) return;
    if (sameSet(target, c.voters)) {
      this.pendingMembership = null;
      return;
    }
    const toAdd = target.filter((id) => !c.voters.includes(id));
    const missing = toAdd.filter((id) => !c.learners.includes(id));
    if (missing.length > 0) {
      // Learners do not vote or count, so adding them needs no joint phase.
      this.appendLocal({ kind: 'config', config: { voters: c.voters, outgoing: [], learners: sorted([...c.learners, ...missing]) } });
      this.bcastAppend();
      return;
    }
    const caughtUp = toAdd.every((id) => (this.progress.get(id)?.match ?? 0) >= this.commit);
    if (!caughtUp) return;
    this.appendLocal({ kind: 'config', config: { voters: target, outgoing: c.voters, learners: [] } });
    this.bcastAppend();
  }

  // ---------------------------------------------------------------- helpers

  /** Recompute the configuration: the latest config entry in the log, committed or not (Raft §6). */
  private refreshConfig(): void {
    const { config, index } = this.log.configAt(this.log.lastIndex());
    this.config = config;
    this.configIndex = index;
    if (this.role === 'leader') this.syncProgress();
  }

  private syncProgress(): void {
    const replicas = new Set(replicasOf(this.config));
    for (const id of [...this.progress.keys()]) if (!replicas.has(id)) this.progress.delete(id);
    for (const id of replicas) {
      if (id === this.id || this.progress.has(id)) continue;
      this.progress.set(id, {
        match: 0,
        next: this.log.lastIndex() + 1,
        state: 'probe',
        paused: false,
        pendingSnapshot: 0,
        snapshotTicks: 0,
        recentActive: false,
        ackedSeq: 0,
        stallMatch: 0,
        stallTicks: 0,
      });
    }
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.commit };
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }

  private checkNotInReady(what: string): void {
    invariant(!this.readyInFlight, () => `${what}() called between ready() and advance()`);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
