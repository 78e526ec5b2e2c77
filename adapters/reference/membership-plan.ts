// Membership faults, the pure part: what to ask the CM for, and how to tell
// from the CM's answers that a change is done. No sockets, no timers: the
// nemesis (./membership.ts) reads the cluster, calls these, and acts.

import type { GroupConfig, GroupLayout } from '../../system-under-test/cm/state.js';
import type { Membership } from '../../system-under-test/raft/types.js';
import type { StatusResponse } from '../../system-under-test/runtime/client.js';

/**
 * What a member fault takes out: a data server (stopped, then out of every
 * group), a running data server's secondary replicas (it rejoins by itself),
 * or a CM member (joint consensus).
 */
export const MEMBER_TARGETS = ['data', 'data-secondary', 'cm'] as const;
export type MemberTarget = (typeof MEMBER_TARGETS)[number];

/** One compare-and-set that drops a data server from a group. */
export interface DataRemovalStep {
  readonly group: string;
  readonly expectedVersion: number;
  readonly config: GroupLayout;
}

/** The groups whose configuration names `server` (primary or secondary), sorted. */
export function groupsHolding(groups: Readonly<Record<string, GroupConfig>>, server: string): string[] {
  return Object.keys(groups)
    .filter((g) => groups[g].primary === server || groups[g].secondaries.includes(server))
    .sort();
}

/**
 * The compare-and-sets that take `server` out of every group that holds it,
 * against the versions in `groups`: a secondary is dropped; a primary is
 * replaced by its first secondary (every secondary holds every committed
 * entry, since the primary commits only on all replicas; a running one is
 * preferred). A group where it is
 * the only replica cannot lose it: that group is in `impossible`.
 *
 * Replacing a primary is sound only while the old primary cannot serve: the
 * nemesis stops the server first (PacificA's new primary does not wait for the
 * old one's leases to run out when the CM, not its own grace period, made it
 * primary).
 */
export function dataRemovalPlan(
  groups: Readonly<Record<string, GroupConfig>>,
  server: string,
  /** Which servers run: a running secondary is promoted before a stopped one (which could not serve until the grace period replaced it). */
  running: (s: string) => boolean = () => true,
): { steps: DataRemovalStep[]; impossible: string[] } {
  const steps: DataRemovalStep[] = [];
  const impossible: string[] = [];
  for (const group of groupsHolding(groups, server)) {
    const g = groups[group];
    const rest = g.secondaries.filter((s) => s !== server);
    if (g.primary === server) {
      const next = rest.find(running) ?? rest[0];
      if (next === undefined) impossible.push(group);
      else steps.push({ group, expectedVersion: g.version, config: { primary: next, secondaries: rest.filter((s) => s !== next) } });
    } else {
      steps.push({ group, expectedVersion: g.version, config: { primary: g.primary, secondaries: rest } });
    }
  }
  return { steps, impossible };
}

export const isJoint = (c: Membership): boolean => c.outgoing.length > 0;
const mentions = (c: Membership, node: string): boolean => c.voters.includes(node) || c.outgoing.includes(node) || c.learners.includes(node);

/**
 * A CM node's removal is done when the leader and every remaining voter hold
 * a configuration that is not joint and does not name it: then no future
 * leader can count its vote or its log (a leader comes from those voters, and
 * each of their logs ends in that configuration). Only then may it be wiped.
 */
export function cmRemovalDone(statuses: Readonly<Record<string, StatusResponse | null>>, node: string): boolean {
  const leader = freshestLeader(statuses);
  if (leader === null || leader.id === node) return false;
  const c = leader.config;
  if (isJoint(c) || mentions(c, node)) return false;
  return c.voters.every((v) => {
    const s = statuses[v];
    return s !== null && s !== undefined && !isJoint(s.config) && !mentions(s.config, node);
  });
}

/** A CM node's addition is done when the leader's configuration has it as a voter, not joint, and the node itself knows it. */
export function cmAddDone(statuses: Readonly<Record<string, StatusResponse | null>>, node: string): boolean {
  const leader = freshestLeader(statuses);
  const own = statuses[node];
  if (leader === null || own === null || own === undefined) return false;
  return !isJoint(leader.config) && leader.config.voters.includes(node) && own.config.voters.includes(node) && !isJoint(own.config);
}

/** The answering node that says it is the leader, with the freshest term. */
export function freshestLeader(statuses: Readonly<Record<string, StatusResponse | null>>): StatusResponse | null {
  let best: StatusResponse | null = null;
  for (const s of Object.values(statuses)) if (s !== null && s.role === 'leader' && (best === null || s.term > best.term)) best = s;
  return best;
}

/** Every group has a primary and `replication - 1` secondaries, and the CM's voters are exactly `cmNodes`. */
export function fullMembership(
  groups: Readonly<Record<string, GroupConfig>> | null,
  statuses: Readonly<Record<string, StatusResponse | null>>,
  layout: { readonly groups: number; readonly replication: number },
  cmNodes: readonly string[],
): boolean {
  if (groups === null) return false;
  const all = Object.values(groups);
  const dataFull = all.length === layout.groups && all.every((g) => g.primary !== '' && g.secondaries.length === layout.replication - 1);
  const leader = freshestLeader(statuses);
  const cmFull = leader !== null && !isJoint(leader.config) && [...leader.config.voters].sort().join(',') === [...cmNodes].sort().join(',');
  return dataFull && cmFull;
}
