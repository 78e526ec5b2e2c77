// The etcd membership fault on three real members started by the harness's
// local provider (harness/providers/local.ts: kill, startFresh with join):
// remove a member, add it back as a learner on an empty data dir, promote
// it, all voters; and restoreAll after another removal. The provider runs
// each member as a user of its own (etcd's owner partitioning): needs root.

import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member } from '../../../adapters/etcd/gateway.js';
import { ETCD_BINARY, etcdAdapter } from '../../../adapters/etcd/index.js';
import { EtcdAdmin } from '../../../adapters/etcd/view.js';
import type { ClientResult } from '../../../harness/core/client.js';
import type { Invocation } from '../../../harness/core/generator/types.js';
import type { Cluster } from '../../../harness/core/provider.js';
import type { Deployment, MembershipFaults, SystemView } from '../../../harness/core/system.js';
import { localProvider } from '../../../harness/providers/local.js';
import { resolveOptions } from '../../../harness/core/options.js';

function etcdMissing(): string | null {
  try {
    accessSync(ETCD_BINARY, constants.X_OK);
    return null;
  } catch {
    return `${ETCD_BINARY} is not installed: apt-get install -y etcd-server etcd-client`;
  }
}
const missing =
  process.getuid?.() !== 0
    ? 'the local provider runs each etcd member as a user of its own (so partitions can tell them apart), which needs root'
    : etcdMissing();
if (missing) console.log(`etcd membership tests skipped: ${missing}`);

type Rec = Record<string, unknown>;
const read = (key: string): Invocation => ({ f: 'read', key, value: null, process: 0, time: 0 });
const write = (key: string, value: number): Invocation => ({ f: 'write', key, value, process: 0, time: 0 });

describe.skipIf(missing !== null)('etcd membership fault', () => {
  // As the harness deploys it (every option: these, the rest at their defaults); a low snapshot-count makes the join catch up by snapshot.
  const deployment: Deployment = etcdAdapter.deploy({
    nodes: 3,
    bugs: [],
    options: resolveOptions(etcdAdapter, { 'heartbeat-ms': '50', 'election-ms': '500', 'snapshot-count': '50' }),
    workload: 'register',
  });
  let runDir: string | undefined;
  let cluster: Cluster;
  let view: SystemView;
  let admin: EtcdAdmin;
  let faults: MembershipFaults;
  const picked: string[][] = [];
  /** The node the stand-in pick takes when it is a candidate. */
  let prefer: unknown = null;

  beforeAll(async () => {
    runDir = mkdtempSync(join(tmpdir(), 'undertow-etcd-member-'));
    cluster = await localProvider().up({ deployment, runDir, runId: `etcdm${process.pid.toString(36)}` });
    view = deployment.view(cluster.nodes);
    admin = new EtcdAdmin(cluster.nodes);
    // The last candidate: with names sorted, e3 (a stand-in for the nemesis's seeded pick).
    faults = deployment.membership!.faults({
      cluster,
      view,
      pick: <T>(xs: readonly T[]) => {
        picked.push(xs.map(String));
        return xs.find((x) => x === prefer) ?? xs[xs.length - 1]!;
      },
      busy: () => new Set(),
    });
  }, 60_000);

  afterAll(async () => {
    view?.close();
    admin?.close();
    await cluster?.teardown();
    if (runDir) rmSync(runDir, { recursive: true, force: true });
  });

  const members = async (): Promise<Member[]> => (await admin.anyMembers(cluster.nodes.map((n) => n.name).filter((n) => cluster.isRunning(n))))!.members;
  async function untilOk(f: () => Promise<ClientResult>, ms = 10_000): Promise<ClientResult> {
    const end = performance.now() + ms;
    for (;;) {
      const r = await f();
      if (r.type === 'ok' || performance.now() > end) return r;
      await new Promise((x) => setTimeout(x, 100));
    }
  }
  async function op(node: string, o: Invocation): Promise<ClientResult> {
    const c = deployment.client('register', { nodes: cluster.nodes, opTimeoutMs: 3000, workloadOptions: {} });
    await c.open(cluster.nodes.find((n) => n.name === node)!.address);
    try {
      return await c.invoke(o, new AbortController().signal);
    } finally {
      await c.close();
    }
  }

  it('remove right after the start is refused (strict reconfig check: peers connected for 5 s), and says so', async () => {
    const r = (await faults.remove('member')) as Rec;
    expect(r).toMatchObject({ node: 'e3', removed: false, killed: false, complete: false, answer: 'etcdserver: unhealthy cluster' });
    expect(cluster.isRunning('e3')).toBe(true);
    expect(faults.removed.size).toBe(0);
    picked.length = 0;
  });

  it('remove takes a running member out (member remove, then kill); add brings it back as a learner on an empty data dir, promoted', async () => {
    // etcd counts a member healthy for a reconfiguration once its peers have been connected to it for 5 s.
    await new Promise((r) => setTimeout(r, 5500));
    expect(faults.removed.size).toBe(0);
    const r = (await faults.remove('member')) as Rec;
    expect(picked[0]).toEqual(['e1', 'e2', 'e3']);
    expect(r).toMatchObject({ target: 'member', node: 'e3', removed: true, killed: true, complete: true, answer: 'removed' });
    expect(typeof r.memberId).toBe('string');
    expect((r.before as Rec[]).map((m) => m.node)).toEqual(['e1', 'e2', 'e3']);
    expect((r.after as Rec[]).map((m) => m.node)).toEqual(['e1', 'e2']);
    expect(cluster.isRunning('e3')).toBe(false);
    expect([...faults.removed]).toEqual([['e3', 'member']]);
    expect((await members()).map((m) => m.name).sort()).toEqual(['e1', 'e2']);

    // The two left go on, and write enough for a snapshot (snapshot-count 50): the new member catches up from it.
    // (A write may meet the election that follows a leader's removal: repeat it, it writes a fixed value.)
    for (let i = 0; i < 120; i++) expect(await untilOk(() => op('e1', write(`k${i % 5}`, i)))).toEqual({ type: 'ok' });

    const a = (await faults.add('member')) as Rec;
    expect(a).toMatchObject({ target: 'member', node: 'e3', complete: true });
    const steps = a.steps as Rec[];
    expect(steps.map((s) => s.step)).toEqual(['member-add', 'start-fresh', 'promote', 'healthy']);
    expect(steps[0]).toMatchObject({ learner: true, memberId: a.memberId });
    expect(a.memberId).not.toBe(r.memberId); // a new member, not the old one back
    // Its --initial-cluster is the member list that member add answered: the two left and itself.
    const hosts = Object.fromEntries(cluster.nodes.map((n) => [n.name, n.host]));
    expect(String(steps[1]!.initialCluster).split(',').sort()).toEqual(['e1', 'e2', 'e3'].map((n) => `${n}=http://${hosts[n]}:2380`));
    expect(steps[2]).toMatchObject({ promoted: true, answer: 'promoted' });
    expect(steps[3]).toMatchObject({ ok: true });
    expect(faults.removed.size).toBe(0);
    const now = await members();
    expect(now.map((m) => m.name).sort()).toEqual(['e1', 'e2', 'e3']);
    expect(now.every((m) => m.isLearner !== true)).toBe(true);
    expect(await view.ready()).toBe(true);
    // The new member serves what was written while it was out.
    expect(await untilOk(() => op('e3', read('k4')))).toEqual({ type: 'ok', value: 119 });
  });

  it('add with nothing removed says so; restoreAll after a removal brings every member back as a voter', async () => {
    expect(await faults.add('member')).toMatchObject({ node: null, complete: false, note: 'no removed member to add back' });
    // The member that just joined counts for the strict reconfig check once connected for 5 s.
    await new Promise((r) => setTimeout(r, 5500));
    const r = (await faults.remove('member')) as Rec;
    expect(r).toMatchObject({ complete: true });
    expect(faults.removed.size).toBe(1);
    const all = (await faults.restoreAll(40_000)) as Rec;
    expect(all).toMatchObject({ complete: true });
    expect((all.restored as Rec[]).map((x) => x.node)).toEqual([r.node]);
    expect((all.members as Rec[]).map((m) => [m.node, m.learner])).toEqual([
      ['e1', false],
      ['e2', false],
      ['e3', false],
    ]);
    expect(faults.removed.size).toBe(0);
    expect(await view.ready()).toBe(true);
  });

  it('removing the leader: the others elect a new one, and the add goes again until one applies (proposals in the election are dropped)', async () => {
    await new Promise((r) => setTimeout(r, 5500));
    const leader = await view.leader();
    prefer = leader;
    const r = (await faults.remove('member')) as Rec;
    expect(r).toMatchObject({ node: leader, complete: true });
    const a = (await faults.add('member')) as Rec;
    expect(a).toMatchObject({ node: leader, complete: true });
    const add = (a.steps as Rec[])[0]!;
    expect(add).toMatchObject({ step: 'member-add', learner: true });
    expect((add.failed as string[]).length).toBe((add.tries as number) - 1);
    expect(await view.ready()).toBe(true);
    expect(await view.leader()).not.toBeNull();
  });
});
