// Configurations and quorums, joint-consensus aware: while a configuration is
// joint (outgoing non-empty), every decision — election, commit, check-quorum,
// read confirmation — needs a majority of C_new AND a majority of C_old.

import type { Membership, NodeId } from './types.js';

export const EMPTY_MEMBERSHIP: Membership = { voters: [], outgoing: [], learners: [] };

export function membership(voters: readonly NodeId[], learners: readonly NodeId[] = []): Membership {
  return { voters: sorted(voters), outgoing: [], learners: sorted(learners) };
}

export function isJoint(m: Membership): boolean {
  return m.outgoing.length > 0;
}

/** Nodes whose vote counts somewhere in m (C_new ∪ C_old). */
export function votersOf(m: Membership): NodeId[] {
  return sorted([...new Set([...m.voters, ...m.outgoing])]);
}

/** Every node the leader replicates to (voters of both sets and learners). */
export function replicasOf(m: Membership): NodeId[] {
  return sorted([...new Set([...m.voters, ...m.outgoing, ...m.learners])]);
}

export function isVoter(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id) || m.outgoing.includes(id);
}

function majorityOf(set: readonly NodeId[], yes: (id: NodeId) => boolean): boolean {
  if (set.length === 0) return true; // an empty half of a non-joint config imposes nothing
  let n = 0;
  for (const id of set) if (yes(id)) n++;
  return n > set.length / 2;
}

/** True when `yes` holds for a majority of C_new and (if joint) of C_old. */
export function hasQuorum(m: Membership, yes: (id: NodeId) => boolean): boolean {
  if (m.voters.length === 0) return false; // a node with no configuration decides nothing
  return majorityOf(m.voters, yes) && majorityOf(m.outgoing, yes);
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Tally of an election from the answers received so far (true = granted). */
export function voteOutcome(m: Membership, answers: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  const half = (set: readonly NodeId[]): VoteOutcome => {
    if (set.length === 0) return 'won';
    let yes = 0;
    let no = 0;
    for (const id of set) {
      const a = answers.get(id);
      if (a === true) yes++;
      else if (a === false) no++;
    }
    if (yes > set.length / 2) return 'won';
    if (set.length - no <= set.length / 2) return 'lost'; // a majority can no longer say yes
    return 'pending';
  };
  if (m.voters.length === 0) return 'lost';
  const a = half(m.voters);
  const b = half(m.outgoing);
  if (a === 'lost' || b === 'lost') return 'lost';
  if (a === 'won' && b === 'won') return 'won';
  return 'pending';
}

/**
 * The highest index replicated on a majority of each voting set, given each
 * voter's match index. The caller still applies the current-term rule.
 */
export function quorumIndex(m: Membership, match: (id: NodeId) => number): number {
  const half = (set: readonly NodeId[]): number => {
    if (set.length === 0) return Number.POSITIVE_INFINITY;
    const idx = set.map(match).sort((x, y) => y - x);
    // The (floor(n/2)+1)-th largest value is held by a majority.
    return idx[Math.floor(set.length / 2)];
  };
  if (m.voters.length === 0) return 0;
  return Math.min(half(m.voters), half(m.outgoing));
}

export function sameSet(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

export function sorted(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort();
}

export function describe(m: Membership): string {
  const v = `[${m.voters.join(',')}]`;
  const o = isJoint(m) ? `+old[${m.outgoing.join(',')}]` : '';
  const l = m.learners.length > 0 ? ` learners[${m.learners.join(',')}]` : '';
  return `${v}${o}${l}`;
}
