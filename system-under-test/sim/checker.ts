// Raft's safety properties (Raft paper, Figure 3), checked incrementally after
// every simulation step so a violation is caught at the step that caused it:
//   election safety      at most one leader per term, ever;
//   log matching         an (index, term) pair names one entry and one
//                        predecessor, so equal pairs imply equal prefixes;
//   leader completeness  an entry committed in term t is in the log of every
//                        leader of a term > t;
//   state-machine safety no two nodes commit or apply different entries at the
//                        same index (and snapshots at the same index agree).

import type { RaftNode } from '../raft/node.js';
import type { Entry, NodeId, Ready, Snapshot } from '../raft/types.js';

export type Property =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'cm-version'
  | 'linearizable-read'
  | 'node-invariant';

export class SafetyViolation extends Error {
  constructor(
    readonly property: Property,
    message: string,
  ) {
    super(`${property}: ${message}`);
    this.name = 'SafetyViolation';
  }
}

interface Committed {
  readonly term: number;
  readonly digest: string;
  /** The lowest term in which any node knew this entry committed. */
  commitTerm: number;
}

export function entryDigest(e: Entry): string {
  switch (e.kind) {
    case 'command':
      return `c${e.data}`;
    case 'noop':
      return 'n';
    case 'config':
      return `g${JSON.stringify(e.config)}`;
  }
}

export class SafetyChecker {
  private readonly leaders = new Map<number, NodeId>();
  /** `${index}/${term}` -> the entry's digest and the term of its predecessor. */
  private readonly pairs = new Map<string, { digest: string; prevTerm: number }>();
  private readonly committed: (Committed | undefined)[] = [];
  private readonly commitSeen = new Map<NodeId, number>();
  private readonly applied: (string | undefined)[] = [];
  private readonly snapshots = new Map<number, string>();
  elections = 0;
  maxCommit = 0;

  /** `nodes` lists the nodes currently up (for leader-completeness on new commits). */
  constructor(private readonly nodes: () => readonly RaftNode[]) {}

  /** Call after every step of `node` (tick, message, proposal, Ready). */
  observe(node: RaftNode): void {
    const s = node.status();
    if (s.role === 'leader') {
      const prev = this.leaders.get(s.term);
      if (prev === undefined) {
        this.leaders.set(s.term, s.id);
        this.elections++;
        this.checkLeaderHoldsCommitted(node, 0);
      } else if (prev !== s.id) {
        throw new SafetyViolation('election-safety', `two leaders in term ${s.term}: ${prev} and ${s.id}`);
      }
    }
    const seen = this.commitSeen.get(s.id) ?? 0;
    if (s.commit > seen) {
      for (let i = Math.max(seen, s.snapshotIndex) + 1; i <= s.commit; i++) {
        const e = node.logEntries(i, i)[0];
        this.recordCommitted(i, e.term, entryDigest(e), s.term, s.id);
      }
      this.commitSeen.set(s.id, s.commit);
      if (s.commit > this.maxCommit) this.maxCommit = s.commit;
    }
    const c = this.committed[s.snapshotIndex];
    if (s.snapshotIndex > 0 && c !== undefined && c.term !== s.snapshotTerm) {
      throw new SafetyViolation(
        'state-machine-safety',
        `${s.id}'s snapshot ends at ${s.snapshotIndex}/${s.snapshotTerm} but the committed entry there has term ${c.term}`,
      );
    }
  }

  /** Call with every Ready a node hands out, before it is applied. */
  observeReady(node: RaftNode, rd: Ready): void {
    for (let k = 0; k < rd.entries.length; k++) {
      const e = rd.entries[k];
      const prevTerm = k === 0 ? node.logTerm(e.index - 1) : rd.entries[k - 1].term;
      if (prevTerm === undefined) throw new SafetyViolation('log-matching', `${node.id} persists entry ${e.index} without holding ${e.index - 1}`);
      const key = `${e.index}/${e.term}`;
      const digest = entryDigest(e);
      const known = this.pairs.get(key);
      if (known === undefined) {
        this.pairs.set(key, { digest, prevTerm });
      } else if (known.digest !== digest || known.prevTerm !== prevTerm) {
        throw new SafetyViolation(
          'log-matching',
          `entry ${key} on ${node.id} is ${digest.slice(0, 60)} after term ${prevTerm}, elsewhere ${known.digest.slice(0, 60)} after term ${known.prevTerm}`,
        );
      }
    }
    if (rd.snapshot !== null) this.observeSnapshot(node.id, rd.snapshot);
    for (const e of rd.committedEntries) {
      const digest = entryDigest(e);
      const other = this.applied[e.index];
      if (other === undefined) this.applied[e.index] = digest;
      else if (other !== digest) {
        throw new SafetyViolation(
          'state-machine-safety',
          `${node.id} applies ${digest.slice(0, 60)} at ${e.index}, another node applied ${other.slice(0, 60)}`,
        );
      }
    }
  }

  /** Snapshots at the same index must hold the same state machine. */
  observeSnapshot(id: NodeId, s: Snapshot): void {
    const other = this.snapshots.get(s.index);
    if (other === undefined) this.snapshots.set(s.index, s.data);
    else if (other !== s.data) {
      throw new SafetyViolation('state-machine-safety', `${id}'s snapshot at ${s.index} differs from another node's snapshot at the same index`);
    }
  }

  /** The pairwise form of log matching, over the logs of the given nodes (slow; call now and then). */
  checkLogsMatch(nodes: readonly RaftNode[]): void {
    for (let a = 0; a < nodes.length; a++) {
      for (let b = a + 1; b < nodes.length; b++) {
        const x = nodes[a];
        const y = nodes[b];
        const sx = x.status();
        const sy = y.status();
        const lo = Math.max(sx.snapshotIndex, sy.snapshotIndex);
        const hi = Math.min(sx.lastIndex, sy.lastIndex);
        let top = -1;
        for (let i = hi; i >= lo; i--) {
          if (x.logTerm(i) === y.logTerm(i)) {
            top = i;
            break;
          }
        }
        if (top <= lo) continue;
        const ex = x.logEntries(lo + 1, top);
        const ey = y.logEntries(lo + 1, top);
        for (let k = 0; k < ex.length; k++) {
          if (ex[k].term !== ey[k].term || entryDigest(ex[k]) !== entryDigest(ey[k])) {
            throw new SafetyViolation('log-matching', `${x.id} and ${y.id} agree on ${top}/${x.logTerm(top)} but differ at ${ex[k].index}`);
          }
        }
      }
    }
  }

  private recordCommitted(index: number, term: number, digest: string, commitTerm: number, by: NodeId): void {
    const known = this.committed[index];
    if (known !== undefined) {
      if (known.term !== term || known.digest !== digest) {
        throw new SafetyViolation(
          'state-machine-safety',
          `${by} commits ${index}/${term} but ${index}/${known.term} was committed before (different entries at one index)`,
        );
      }
      if (commitTerm < known.commitTerm) known.commitTerm = commitTerm;
      return;
    }
    this.committed[index] = { term, digest, commitTerm };
    for (const n of this.nodes()) {
      const s = n.status();
      if (s.role === 'leader' && s.term > commitTerm) this.checkLeaderHoldsCommitted(n, index);
    }
  }

  /** Leader completeness for `leader` over committed entries from index `from` on (0 = all). */
  private checkLeaderHoldsCommitted(leader: RaftNode, from: number): void {
    const s = leader.status();
    const lo = Math.max(from, s.snapshotIndex);
    const hi = from > 0 ? from : this.committed.length - 1;
    for (let i = lo; i <= hi; i++) {
      const c = this.committed[i];
      if (c === undefined || c.commitTerm >= s.term) continue;
      const t = leader.logTerm(i);
      if (t !== c.term) {
        throw new SafetyViolation(
          'leader-completeness',
          `${s.id} leads term ${s.term} without entry ${i}/${c.term}, committed in term ${c.commitTerm} (it holds ${t === undefined ? 'nothing' : `term ${t}`} there)`,
        );
      }
    }
  }
}
