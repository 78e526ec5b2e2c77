// One configuration-manager node: a Raft node plus the CM state machine it
// drives. Still pure: the driver (the simulator, or the process runtime) owns
// the disk, the network and time, and calls
//   rd = takeReady()  -> persist rd (snapshot, entries, hard state), fsync
//                     -> send rd.messages
//   completeReady(rd) -> applies, serves reads, compacts; persist the returned
//                        snapshot if any
// with no tick/step/submit in between (the Raft Ready contract).

import { RaftNode, type ChangeResult, type RaftOptions } from '../raft/node.js';
import type { Message, ProposeResult, ReadState, Ready, Snapshot } from '../raft/types.js';
import { invariant } from '../util/invariant.js';
import { CmStateMachine, type CmProposal, type CmResult } from './state.js';

export interface CmReplicaOptions extends RaftOptions {
  /** Compact the log once this many applied entries follow the last snapshot. */
  readonly compactEvery?: number;
}

export interface ReadyOutcome {
  /** Results of the proposals applied by this Ready, in log order. */
  readonly results: readonly { readonly id: string; readonly index: number; readonly result: CmResult }[];
  /** Read contexts that may now be served from `state` (applied >= their read index). */
  readonly reads: readonly string[];
  /** A snapshot made by compaction: write it durably (it replaces the log prefix). */
  readonly snapshotToSave: Snapshot | null;
}

export class CmReplica {
  readonly raft: RaftNode;
  private sm: CmStateMachine;
  private readonly bugs: ReadonlySet<string>;
  private readonly compactEvery: number;
  private waitingReads: ReadState[] = [];
  private current: Ready | null = null;

  constructor(opts: CmReplicaOptions) {
    this.raft = new RaftNode(opts);
    this.bugs = opts.bugs ?? new Set();
    this.compactEvery = opts.compactEvery ?? 100;
    this.sm = CmStateMachine.fromSnapshot(opts.state.snapshot, { bugs: this.bugs });
  }

  /** The applied state machine (read it only between Readies). */
  get state(): CmStateMachine {
    return this.sm;
  }

  tick(): void {
    this.raft.tick();
  }

  step(m: Message): void {
    this.raft.step(m);
  }

  submit(p: CmProposal): ProposeResult {
    return this.raft.propose(JSON.stringify(p));
  }

  /** Begin a linearizable read; `ctx` comes back in ReadyOutcome.reads when it may be served. */
  read(ctx: string): ChangeResult {
    return this.raft.readIndex(ctx);
  }

  /** Add a CM member: it joins as a learner, catches up, then becomes a voter by joint consensus. */
  addMember(id: string): ChangeResult {
    const voters = this.raft.status().config.voters;
    if (voters.includes(id)) return { ok: false, reason: 'already-member', leader: this.raft.status().leader };
    return this.raft.changeMembership([...voters, id]);
  }

  removeMember(id: string): ChangeResult {
    const voters = this.raft.status().config.voters;
    if (!voters.includes(id)) return { ok: false, reason: 'not-a-member', leader: this.raft.status().leader };
    return this.raft.changeMembership(voters.filter((v) => v !== id));
  }

  takeReady(): Ready | null {
    invariant(this.current === null, 'takeReady twice without completeReady');
    if (!this.raft.hasReady()) return null;
    this.current = this.raft.ready();
    return this.current;
  }

  completeReady(rd: Ready): ReadyOutcome {
    invariant(this.current === rd, 'completeReady for a Ready that is not the current one');
    this.current = null;
    if (rd.snapshot !== null) {
      this.sm = CmStateMachine.fromSnapshot(rd.snapshot, { bugs: this.bugs });
    }
    const results: { id: string; index: number; result: CmResult }[] = [];
    for (const e of rd.committedEntries) {
      const r = this.sm.applyEntry(e);
      if (r !== null) results.push({ ...r, index: e.index });
    }
    this.raft.advance(rd);
    invariant(this.sm.applied() === this.raft.status().applied, () => `CM applied ${this.sm.applied()} but Raft applied ${this.raft.status().applied}`);

    this.waitingReads.push(...rd.readStates);
    const reads: string[] = [];
    const applied = this.sm.applied();
    this.waitingReads = this.waitingReads.filter((r) => {
      if (r.index > applied) return true;
      reads.push(r.ctx);
      return false;
    });

    let snapshotToSave: Snapshot | null = null;
    if (applied - this.raft.snapshot().index >= this.compactEvery) {
      snapshotToSave = this.raft.compact(applied, this.sm.serialize());
    }
    return { results, reads, snapshotToSave };
  }
}
