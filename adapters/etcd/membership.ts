// etcd's membership fault, through its member API (as etcdctl member ...).
//
// remove: a running member that no other fault holds (ctx.pick of them),
//   `member remove` sent through another member, then kill -9 (a removed etcd
//   member stops by itself soon after; the kill makes it certain and prompt).
//   When the answer is lost, the member list says whether it happened; a
//   member that is still in the list is neither killed nor counted removed.
// add: a removed node comes back as a new member on an empty data dir:
//   `member add` as a learner (its answer lists every member, the new one
//   included: recorded for the node's launch, see index.ts), startFresh with
//   join, then `member promote` until etcd stops answering that the learner
//   is not yet in sync, then until the node answers as a voter with a leader.
//   A node found still (or again) in the member list resumes where it is: a
//   member added but never started is started fresh on that list; a started
//   one is restarted on its data if down; a learner is promoted.
// restoreAll: every removed node, and every node the member list lacks (a
//   removal that completed after its op gave up), comes back; then waits
//   until every node is a voter, answers, and names the same leader.
// Every value says what was done: the node, member ids, each step's answer,
// the member lists before and after, complete true/false, and ms.

import type { MembershipContext, MembershipFaults } from '../../harness/core/system.js';
import type { Value } from '../../history/types.js';
import { EtcdError, type Member } from './gateway.js';
import { peerUrl } from './urls.js';
import { EtcdAdmin } from './view.js';

/** What `member add` answered for a node: its --initial-cluster when it joins. */
export interface JoinRecord {
  readonly memberId: string;
  readonly initialCluster: string;
}

export interface EtcdMembershipContext extends MembershipContext {
  /** Shared with the deployment's launch: the member list each joining node starts with. */
  readonly joins: Map<string, JoinRecord>;
  /** How long add waits for the learner to catch up and be promoted (default 20 s). */
  readonly waitMs?: number;
}

export const MEMBER_TARGETS = ['member'] as const;

/** How long one member add/remove/promote may take: etcd answers once the change is applied. */
const MEMBER_MS = 5000;
/** After a remove whose answer was lost, how long the member list may take to lose the member. */
const LOST_REMOVE_MS = 5000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
/** An error that says the request never reached a member (that member is down): ask another. */
const notReached = (e: unknown): boolean => e instanceof EtcdError && e.definite && e.code === undefined;

export function etcdMembership(ctx: EtcdMembershipContext): MembershipFaults {
  const { cluster, joins } = ctx;
  const waitMs = ctx.waitMs ?? 20_000;
  const admin = new EtcdAdmin(cluster.nodes);
  const names = cluster.nodes.map((n) => n.name);
  const hostOf = (node: string) => cluster.nodes.find((n) => n.name === node)!.host;
  const removed = new Map<string, string>();

  const membersValue = (ms: readonly Member[]): Value =>
    ms
      .map((m) => ({ id: m.ID, node: admin.nodeOf(m), learner: m.isLearner === true, started: Boolean(m.name) }))
      .sort((a, b) => String(a.node).localeCompare(String(b.node)));
  const others = (node: string) => names.filter((n) => n !== node && cluster.isRunning(n));
  const listVia = (nodes: readonly string[]) => admin.anyMembers(nodes);

  /** Sends `req` through the first of `via` that it reaches; what it answered (or why not). */
  async function through<T>(
    via: readonly string[],
    req: (node: string) => Promise<T>,
  ): Promise<{ via: string | null; ok: true; answer: T } | { via: string | null; ok: false; error: string; definite: boolean }> {
    let last: { via: string | null; ok: false; error: string; definite: boolean } = { via: null, ok: false, error: 'no running member to ask', definite: true };
    for (const node of via) {
      try {
        return { via: node, ok: true, answer: await req(node) };
      } catch (e) {
        last = { via: node, ok: false, error: errorText(e), definite: e instanceof EtcdError && e.definite };
        if (!notReached(e)) return last;
      }
    }
    return last;
  }

  /** Polls `check` until it holds or `deadline` passes; whether it held. */
  async function until(deadline: number, check: () => Promise<boolean>): Promise<boolean> {
    for (;;) {
      if (await check().catch(() => false)) return true;
      if (performance.now() >= deadline) return false;
      await sleep(200);
    }
  }

  async function remove(target: string): Promise<Value> {
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    if (target !== 'member')
      return { target, node: null, complete: false, note: `etcd has no member target ${JSON.stringify(target)} (only member)`, ms: ms() };
    const list = await listVia(names.filter((n) => cluster.isRunning(n)));
    if (list === null) return { target, node: null, complete: false, note: 'no member answered the member list', ms: ms() };
    const busy = ctx.busy();
    const candidates = list.members
      .map((m) => admin.nodeOf(m))
      .filter((n): n is string => n !== null && cluster.isRunning(n) && !busy.has(n) && !removed.has(n))
      .sort();
    if (list.members.length <= 1)
      return { target, node: null, complete: false, note: 'one member left: not removing the last', before: membersValue(list.members), ms: ms() };
    if (candidates.length === 0)
      return { target, node: null, complete: false, note: 'no running member that no other fault holds', before: membersValue(list.members), ms: ms() };
    const node = ctx.pick(candidates);
    const id = list.members.find((m) => admin.nodeOf(m) === node)!.ID;
    const r = await through(others(node), (via) => admin.memberRemove(via, id, MEMBER_MS));
    // Out for certain when etcd said so; when the answer was lost, when the member list lacks it
    // (a proposal dropped in an election never applies: after a while it counts as not done).
    let out = r.ok;
    if (!r.ok && !r.definite)
      out = await until(
        performance.now() + Math.min(waitMs, LOST_REMOVE_MS),
        async () => !((await listVia(others(node)))?.members.some((m) => m.ID === id) ?? true),
      );
    if (out) {
      await cluster.kill(node);
      removed.set(node, 'member');
    }
    const after = await listVia(others(node));
    return {
      target,
      node,
      memberId: id,
      via: r.via,
      answer: r.ok ? 'removed' : r.error,
      removed: out,
      killed: out,
      before: membersValue(list.members),
      after: after ? membersValue(after.members) : null,
      complete: out,
      ms: ms(),
    };
  }

  /** Brings `node` back as a voter (see the top of this file); the steps taken. */
  async function addBack(node: string, deadline: number): Promise<Value> {
    const t0 = performance.now();
    const steps: Value[] = [];
    const step = (s: Record<string, Value>) => steps.push({ ...s, ms: Math.round(performance.now() - t0) });
    const done = (complete: boolean, memberId: string | null, extra: Record<string, Value> = {}) => ({
      node,
      memberId,
      steps,
      complete,
      ...extra,
      ms: Math.round(performance.now() - t0),
    });

    const list = await listVia(others(node));
    if (list === null) {
      step({ step: 'member-list', answer: 'no running member answered' });
      return done(false, null);
    }
    const before = membersValue(list.members);
    let entry = list.members.find((m) => admin.nodeOf(m) === node);
    let members = list.members;
    const join = async (id: string, ms: readonly Member[]) => {
      const initialCluster = ms.flatMap((m) => (m.peerURLs ?? []).map((u) => `${m.ID === id ? node : (admin.nodeOf(m) ?? m.name)}=${u}`)).join(',');
      joins.set(node, { memberId: id, initialCluster });
      if (cluster.isRunning(node)) {
        await cluster.kill(node);
        step({ step: 'kill', why: 'running while out of the membership' });
      }
      await cluster.startFresh(node, { join: true });
      step({ step: 'start-fresh', join: true, initialCluster });
    };

    if (entry) {
      step({ step: 'found', memberId: entry.ID, learner: entry.isLearner === true, started: Boolean(entry.name) });
      if (!entry.name) await join(entry.ID, members);
      else if (!cluster.isRunning(node)) {
        await cluster.start(node);
        step({ step: 'restart', on: 'its data' });
      }
    } else {
      // member add until the list has it: a refused or lost add (a leader
      // election in progress drops proposals) goes again; an add that did
      // apply shows in the list, and a second one would be refused (its peer
      // URL exists), so the node is never added twice.
      const got: { entry?: Member; members?: Member[]; via?: string | null; by?: string; answer?: string } = {};
      let tries = 0;
      const failed: string[] = [];
      await until(deadline, async () => {
        const l = await listVia(others(node));
        const found = l?.members.find((m) => admin.nodeOf(m) === node);
        if (found && l) return Boolean(Object.assign(got, { entry: found, members: l.members, by: 'member-list' }));
        tries++;
        const r = await through(others(node), (via) => admin.memberAdd(via, peerUrl(hostOf(node)), true, MEMBER_MS));
        if (r.ok && r.answer.member) return Boolean(Object.assign(got, { entry: r.answer.member, members: r.answer.members ?? [], via: r.via, by: 'answer' }));
        got.via = r.via;
        got.answer = r.ok ? 'answered without the member' : r.error;
        failed.push(got.answer);
        return false;
      });
      entry = got.entry;
      members = got.members ?? members;
      step({
        step: 'member-add',
        learner: true,
        tries,
        failed,
        via: got.via ?? null,
        memberId: entry?.ID ?? null,
        ...(entry ? { seenIn: got.by!, members: membersValue(members) } : { answer: got.answer ?? 'no running member to ask' }),
      });
      if (!entry) return done(false, null, { before });
      await join(entry.ID, members);
    }
    const id = entry.ID;

    // Promote: etcd refuses until the learner has caught up with the leader.
    let promoted = entry.isLearner !== true;
    if (!promoted) {
      let tries = 0;
      let answer = '';
      await until(deadline, async () => {
        tries++;
        const r = await through(others(node), (via) => admin.memberPromote(via, id, MEMBER_MS));
        if (r.ok) return (promoted = true);
        answer = r.error;
        // Promoted already (a promote whose answer was lost).
        if (/not a learner|can only promote a learner member$/i.test(r.error)) {
          const l = await listVia(others(node));
          promoted = l?.members.some((m) => m.ID === id && m.isLearner !== true) ?? false;
        }
        return promoted;
      });
      step({ step: 'promote', memberId: id, tries, promoted, answer: promoted ? 'promoted' : answer });
    }
    const healthy =
      promoted &&
      (await until(deadline, async () => {
        const s = await admin.status(node);
        return s.isLearner !== true && !s.errors?.length && s.leader !== undefined && s.leader !== '0';
      }));
    step({ step: 'healthy', ok: healthy });
    if (promoted && healthy) removed.delete(node);
    const after = await listVia(names.filter((n) => cluster.isRunning(n)));
    return done(promoted && healthy, id, { before, after: after ? membersValue(after.members) : null });
  }

  async function add(target: string | undefined): Promise<Value> {
    if (target !== undefined && target !== 'member')
      return { target, node: null, complete: false, note: `etcd has no member target ${JSON.stringify(target)} (only member)` };
    const candidates = [...removed.keys()].sort();
    if (candidates.length === 0) return { target: 'member', node: null, complete: false, note: 'no removed member to add back' };
    const node = ctx.pick(candidates);
    return { target: 'member', ...((await addBack(node, performance.now() + waitMs)) as Record<string, Value>) };
  }

  async function restoreAll(ms: number): Promise<Value> {
    const t0 = performance.now();
    const deadline = t0 + ms;
    const list = await listVia(names.filter((n) => cluster.isRunning(n)));
    const lacking = list ? names.filter((n) => !list.members.some((m) => admin.nodeOf(m) === n)) : [];
    const todo = [...new Set([...removed.keys(), ...lacking])].sort();
    const restored: Value[] = [];
    for (const node of todo) restored.push(await addBack(node, deadline));
    // Full membership: every node a voter in the list, answering, with one leader.
    let final: Member[] = [];
    const full = await until(deadline, async () => {
      const l = await listVia(names);
      if (!l) return false;
      final = l.members;
      const voters = new Set(l.members.filter((m) => m.isLearner !== true).map((m) => admin.nodeOf(m)));
      if (!names.every((n) => voters.has(n)) || l.members.length !== names.length) return false;
      const all = await admin.statuses();
      const leaders = new Set(all.map((a) => a.status?.leader));
      return all.every((a) => a.status && !a.status.errors?.length && a.status.leader !== '0') && leaders.size === 1;
    });
    return { restored, members: membersValue(final), complete: full && removed.size === 0, ms: Math.round(performance.now() - t0) };
  }

  return {
    removed,
    remove,
    add,
    restoreAll,
  };
}
