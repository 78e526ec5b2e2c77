// Membership faults: take a data server or a CM member out of the cluster's
// membership, and bring it back; the cluster must return to full replication.
//
// Data server, out: stop it (kill -9), then take it out of every group that
// holds it by the CM's compare-and-set (`reconfigure`), re-reading and
// retrying on a version mismatch (the primaries and secondaries reconfigure
// too, and one of competing requests wins). Where it was the primary, its
// first secondary becomes primary. It is stopped first because PacificA's
// leases make a primary change safe only when the old primary can no longer
// serve: a primary made by the CM (not by its own grace period) does not wait
// for the old one's leases to lapse.
// Data server, back: restart it on its data; each of its replicas finds it is
// outside its group's configuration, asks the primary to catch it up as a
// learner, and the primary asks the CM to add it. The nemesis only watches.
//
// Data server's secondaries, out (`data-secondary`): the same compare-and-sets
// on a running server, only in the groups where it is a secondary (no primary
// moves, so nothing needs stopping). Its replicas learn their removal from the
// CM and rejoin at once, by themselves: back is only watching for it.
//
// CM member, out: `removeMember` (joint consensus: C_old,new, then C_new; a
// removed leader steps down). The node keeps running, outside the
// configuration, as a removed server would until someone stops it: Raft's
// rule that a server that heard from a leader recently ignores RequestVote
// must keep it from disrupting the rest.
// CM member, back: stop it; if every remaining voter holds a configuration
// without it (so its old log and votes count nowhere) start it on an empty
// data dir with `--join`, else on its data; then `addMember` (learner, catch
// up, C_old,new, C_new).
//
// Every op's value says what was done: the node, the configurations before
// and after, which compare-and-sets won, and whether the change completed.

import type { Cluster } from '../../harness/core/provider.js';
import type { MembershipFaults } from '../../harness/core/system.js';
import type { Value } from '../../history/types.js';
import type { GroupConfig } from '../../system-under-test/cm/state.js';
import { CmClient, type CmRequest, type CmResponse, type StatusResponse } from '../../system-under-test/runtime/client.js';
import {
  cmAddDone,
  cmRemovalDone,
  dataRemovalPlan,
  freshestLeader,
  fullMembership,
  groupsHolding,
  MEMBER_TARGETS,
  type MemberTarget,
} from './membership-plan.js';

/** Time as the membership ops see it: real time, or a simulated cluster's virtual time. */
export interface MembershipClock {
  /** Milliseconds (any origin). */
  now(): number;
  sleep(ms: number): Promise<void>;
}

const REAL_TIME: MembershipClock = { now: () => performance.now(), sleep: (ms) => new Promise<void>((r) => setTimeout(r, ms)) };

/** What the ops ask the CM: its groups and each CM node's status (null: no answer). ClusterView on real nodes. */
export interface MembershipView {
  groups(): Promise<Record<string, GroupConfig> | null>;
  cmStatuses(): Promise<Record<string, StatusResponse | null>>;
}

/** A CM client (leader hunting, an unknown outcome on a timeout after sending), as runtime/client.ts's CmClient. */
export interface MembershipCm {
  request(req: CmRequest): Promise<CmResponse>;
  close(): void;
}

type NodeRole = 'cm' | 'data';

export interface MembershipOptions {
  cluster: Cluster;
  view: MembershipView;
  /** The replication groups and replicas per group the cluster was started with: what full replication means. */
  layout: { readonly groups: number; readonly replication: number };
  /** Picks one of `xs` (the nemesis's seeded random). */
  pick: <T>(xs: readonly T[]) => T;
  /** Nodes other faults hold (killed, paused): not chosen, so that no other fault restarts a removed node. */
  busy: () => ReadonlySet<string>;
  /** How long an op waits for its change to complete before it reports that it did not (yet). */
  waitMs?: number;
  /** Real time unless given (a simulated cluster's virtual time). */
  clock?: MembershipClock;
  /** A CM client; a real CmClient to the CM nodes' addresses unless given. */
  cmClient?: () => MembershipCm;
}

type Groups = Record<string, GroupConfig>;
const layoutOf = (g: GroupConfig): Value => ({ version: g.version, primary: g.primary, secondaries: [...g.secondaries] });
const groupsValue = (groups: Groups | null): Value =>
  groups === null
    ? null
    : Object.fromEntries(
        Object.keys(groups)
          .sort()
          .map((k) => [k, layoutOf(groups[k])]),
      );

export function membership(o: MembershipOptions): MembershipFaults {
  const { cluster, view } = o;
  const waitMs = o.waitMs ?? 15_000;
  const removed = new Map<string, NodeRole>();
  const cmNodes = cluster.nodes.filter((n) => n.role === 'cm').map((n) => n.name);
  const addressOf = (node: string) => cluster.nodes.find((n) => n.name === node)!.address;
  const cmAddresses = cluster.nodes.filter((n) => n.role === 'cm').map((n) => n.address);
  const cmClient = o.cmClient ?? ((): MembershipCm => new CmClient(cmAddresses, { timeoutMs: 3000, attemptMs: 1000 }));
  const clock = o.clock ?? REAL_TIME;
  const sleep = (ms: number): Promise<void> => clock.sleep(ms);

  const groups = async (): Promise<Groups | null> => view.groups().catch(() => null);

  /** Polls `check` until it holds or `ms` pass; whether it held. */
  const until = async (ms: number, check: () => Promise<boolean>): Promise<boolean> => {
    const end = clock.now() + ms;
    for (;;) {
      if (await check().catch(() => false)) return true;
      if (clock.now() > end) return false;
      await sleep(200);
    }
  };

  // ------------------------------------------------------------ data servers

  /** Takes a running server out of the groups where it is a secondary, each once: it rejoins by itself meanwhile. */
  const removeSecondaries = async (node: string): Promise<Value> => {
    const t0 = clock.now();
    const before = await groups();
    if (before === null) return { role: 'data-secondary', node: null, note: 'the CM did not answer' };
    removed.set(node, 'data');
    const targets = Object.keys(before)
      .filter((g) => before[g].secondaries.includes(node))
      .sort();
    const out = new Map<string, Value>();
    const won: Value[] = [];
    let mismatches = 0;
    let unknown = 0;
    const cm = cmClient();
    try {
      const end = clock.now() + waitMs;
      while (out.size < targets.length && clock.now() < end) {
        const now = await groups();
        if (now === null) {
          await sleep(200);
          continue;
        }
        for (const g of targets.filter((t) => !out.has(t))) {
          const cur = now[g];
          // Out already (our compare-and-set whose answer was lost, or the primary's own), or primary by now: done with it.
          if (!cur.secondaries.includes(node)) {
            out.set(g, layoutOf(cur));
            continue;
          }
          const r: CmResponse = await cm.request({
            op: 'reconfigure',
            group: g,
            expectedVersion: cur.version,
            config: { primary: cur.primary, secondaries: cur.secondaries.filter((s) => s !== node) },
          });
          if (r.ok) {
            won.push({ group: g, from: cur.version, to: layoutOf(r.group as GroupConfig) });
            out.set(g, layoutOf(r.group as GroupConfig));
          } else if (r.error === 'version-mismatch') mismatches++;
          else if (r.unknown === true) unknown++;
        }
      }
    } finally {
      cm.close();
    }
    return {
      role: 'data-secondary',
      node,
      stopped: false,
      before: groupsValue(before),
      won,
      mismatches,
      unknown,
      // Per group, the first configuration seen without it (it may be back in the group already).
      out: Object.fromEntries(out),
      removed: targets.length > 0 && out.size === targets.length,
      ms: Math.round(clock.now() - t0),
    };
  };

  const removeData = async (node: string): Promise<Value> => {
    const t0 = clock.now();
    const before = await groups();
    await cluster.kill(node);
    removed.set(node, 'data');
    const cm = cmClient();
    const won: Value[] = [];
    let mismatches = 0;
    let unknown = 0;
    let impossible: string[] = [];
    let after: Groups | null = null;
    try {
      const end = clock.now() + waitMs;
      while (clock.now() < end) {
        after = await groups();
        if (after === null) {
          await sleep(200);
          continue;
        }
        const plan = dataRemovalPlan(after, node, (s) => cluster.isRunning(s));
        impossible = plan.impossible;
        if (plan.steps.length === 0) break;
        for (const step of plan.steps) {
          const r: CmResponse = await cm.request({ op: 'reconfigure', group: step.group, expectedVersion: step.expectedVersion, config: step.config });
          if (r.ok) won.push({ group: step.group, from: step.expectedVersion, to: layoutOf(r.group as GroupConfig) });
          else if (r.error === 'version-mismatch') mismatches++;
          else if (r.unknown === true) unknown++;
        }
      }
    } finally {
      cm.close();
    }
    const still = after === null ? null : groupsHolding(after, node);
    return {
      role: 'data',
      node,
      stopped: true,
      // What the CM held before, the compare-and-sets that won, and what it holds now.
      before: groupsValue(before),
      won,
      mismatches,
      unknown,
      impossible,
      after: groupsValue(after),
      removed: still !== null && still.length === 0,
      ms: Math.round(clock.now() - t0),
    };
  };

  const addData = async (node: string, ms: number): Promise<Value> => {
    const t0 = clock.now();
    const before = await groups();
    const wasRunning = cluster.isRunning(node);
    await cluster.start(node);
    removed.delete(node);
    let after: Groups | null = null;
    // Nothing to ask for: its replicas rejoin as learners and the primaries add them.
    const back = await until(ms, async () => {
      after = await groups();
      return fullMembership(
        after,
        await view.cmStatuses(),
        o.layout,
        cmNodes.filter((n) => !removed.has(n)),
      );
    });
    return {
      role: 'data',
      node,
      restarted: !wasRunning,
      before: groupsValue(before),
      after: groupsValue(after),
      rejoined: after === null ? [] : groupsHolding(after, node),
      complete: back,
      ms: Math.round(clock.now() - t0),
    };
  };

  // ------------------------------------------------------------ CM members

  /** Asks the CM for a membership change, retrying while another one is in progress; the last answer. */
  const askCm = async (req: { op: 'addMember'; id: string; address: string } | { op: 'removeMember'; id: string }, ms: number): Promise<CmResponse> => {
    const cm = cmClient();
    try {
      const end = clock.now() + ms;
      for (;;) {
        const r = await cm.request(req);
        const retry =
          !r.ok && (r.error === 'membership-change-in-progress' || r.error === 'leader-not-ready' || r.error === 'no-leader' || r.error === 'unreachable');
        if (!retry || clock.now() > end) return r;
        await sleep(200);
      }
    } finally {
      cm.close();
    }
  };

  const removeCm = async (node: string): Promise<Value> => {
    const t0 = clock.now();
    const statuses = await view.cmStatuses();
    const before = freshestLeader(statuses);
    const r = await askCm({ op: 'removeMember', id: node }, waitMs / 2);
    removed.set(node, 'cm');
    let last = statuses;
    const done = await until(waitMs, async () => cmRemovalDone((last = await view.cmStatuses()), node));
    return {
      role: 'cm',
      node,
      leader: before?.id ?? null,
      votersBefore: before ? [...before.config.voters] : null,
      answer: r.ok ? 'ok' : r.error,
      votersAfter: freshestLeader(last) ? [...freshestLeader(last)!.config.voters] : null,
      complete: done,
      // It keeps running outside the configuration until it is added back.
      running: cluster.isRunning(node),
      ms: Math.round(clock.now() - t0),
    };
  };

  const addCm = async (node: string, ms: number): Promise<Value> => {
    const t0 = clock.now();
    const statuses = await view.cmStatuses();
    const before = freshestLeader(statuses);
    // Its old log and votes count nowhere once every remaining voter has moved on: then it may start from nothing.
    const wipe = cmRemovalDone(statuses, node);
    await cluster.kill(node);
    if (wipe) await cluster.startFresh(node, { join: true });
    else await cluster.start(node);
    const end = clock.now() + ms;
    // Add it once it listens: the leader's first probe of a new learner must not be lost (see the
    // Raft note in the report: a lost probe is not resent until the next entry is proposed).
    const listening = await until(ms / 2, async () => (await view.cmStatuses())[node] !== null);
    const answers: string[] = [];
    let done = false;
    let last = statuses;
    while (!done && clock.now() < end) {
      const r = await askCm({ op: 'addMember', id: node, address: addressOf(node) }, Math.max(1000, end - clock.now()));
      // already-member: an earlier request (or one whose outcome was unknown) went through.
      answers.push(r.ok ? 'ok' : r.error);
      // Asking again proposes an entry (registerMember), which also restarts a stalled catch-up.
      done = await until(Math.max(0, Math.min(3000, end - clock.now())), async () => cmAddDone((last = await view.cmStatuses()), node));
    }
    if (done) removed.delete(node);
    const after = freshestLeader(last);
    return {
      role: 'cm',
      node,
      wiped: wipe,
      joined: wipe,
      listening,
      votersBefore: before ? [...before.config.voters] : null,
      answers,
      votersAfter: after ? [...after.config.voters] : null,
      complete: done,
      ms: Math.round(clock.now() - t0),
    };
  };

  // ------------------------------------------------------------ the ops

  const remove = async (target: MemberTarget): Promise<Value> => {
    const role: NodeRole = target === 'cm' ? 'cm' : 'data';
    // One node out at a time: with 3 CM nodes a second removal would leave no fault tolerance, with
    // replication 3 on 3 servers a second data server out would leave groups with one replica.
    const already = [...removed].find(([, r]) => r === role);
    if (already !== undefined) return { role: target, node: null, note: `${already[0]} is out already` };
    const busy = o.busy();
    let candidates = cluster.nodes.filter((n) => n.role === role && !busy.has(n.name) && cluster.isRunning(n.name)).map((n) => n.name);
    if (target === 'data-secondary') {
      // Only a server that is a secondary somewhere has anything to lose.
      const now = await groups();
      candidates = candidates.filter((c) => now !== null && Object.values(now).some((g) => g.secondaries.includes(c)));
    }
    if (candidates.length === 0)
      return { role: target, node: null, note: `no running ${target === 'data-secondary' ? 'secondary' : role} node that no other fault holds` };
    const node = o.pick(candidates);
    return target === 'data' ? removeData(node) : target === 'data-secondary' ? removeSecondaries(node) : removeCm(node);
  };

  const add = async (role: NodeRole | undefined, ms = waitMs): Promise<Value> => {
    const out = [...removed]
      .filter(([, r]) => role === undefined || r === role)
      .map(([n]) => n)
      .sort();
    if (out.length === 0) return { role: role ?? null, node: null, note: 'nothing to add back' };
    const node = out[0];
    return removed.get(node) === 'data' ? addData(node, ms) : addCm(node, ms);
  };

  return {
    removed,
    remove: (target) => remove((MEMBER_TARGETS as readonly string[]).includes(target) ? (target as MemberTarget) : 'data'),
    // A data server taken out either way comes back as a data server.
    add: (target) => add(target === undefined ? undefined : target === 'cm' ? 'cm' : 'data'),
    async restoreAll(ms: number): Promise<Value> {
      const end = clock.now() + ms;
      const restored: Value[] = [];
      // The CM first: the data servers' rejoining goes through it.
      for (const node of [...removed].sort(([, a], [, b]) => (a === b ? 0 : a === 'cm' ? -1 : 1)).map(([n]) => n)) {
        restored.push(
          removed.get(node) === 'data'
            ? await addData(node, Math.max(1000, (end - clock.now()) / 2))
            : await addCm(node, Math.max(1000, (end - clock.now()) / 2)),
        );
      }
      let g: Groups | null = null;
      let statuses = {} as Awaited<ReturnType<MembershipView['cmStatuses']>>;
      const full = await until(Math.max(0, end - clock.now()), async () =>
        fullMembership((g = await groups()), (statuses = await view.cmStatuses()), o.layout, cmNodes),
      );
      const leader = freshestLeader(statuses);
      return { restored, fullyReplicated: full, groups: groupsValue(g), cmVoters: leader ? [...leader.config.voters] : null };
    },
  };
}
