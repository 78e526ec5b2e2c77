// The etcd adapter against three real members on loopback, started by the
// harness's local provider (harness/providers/local.ts) from the adapter's
// deployment: each workload's ops through the client, the view's answers,
// and the command lines the deployment gives. The provider runs each member
// as a user of its own (etcd's owner partitioning), so this needs root.

import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_BINARY, etcdAdapter, etcdDeployment } from '../../../adapters/etcd/index.js';
import type { Client, ClientResult } from '../../../harness/core/client.js';
import type { Invocation } from '../../../harness/core/generator/types.js';
import type { Cluster } from '../../../harness/core/provider.js';
import type { Deployment } from '../../../harness/core/system.js';
import { localProvider } from '../../../harness/providers/local.js';
import { resolveOptions } from '../../../harness/core/options.js';
import { InputError } from '../../../history/input-error.js';

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
if (missing) console.log(`etcd integration tests skipped: ${missing}`);

/** The deployment as the harness makes it: every option, the given ones checked and the rest at their defaults. */
const deploy = (options: Readonly<Record<string, string>>, workload = 'register'): Deployment =>
  etcdAdapter.deploy({ nodes: 3, bugs: [], options: resolveOptions(etcdAdapter, options), workload });
const OPTIONS = { 'heartbeat-ms': '50', 'election-ms': '500' };

const op = (f: string, value: unknown = null, key?: string): Invocation => ({
  f,
  value: value as Invocation['value'],
  ...(key !== undefined ? { key } : {}),
  process: 0,
  time: 0,
});

describe('etcd adapter: settings and command lines', () => {
  it('refuses fewer than one member, unknown options and bad values in one line', () => {
    expect(() => etcdDeployment(0)).toThrow(InputError);
    expect(() => etcdDeployment(0)).toThrow(/at least 1 member/);
    expect(() => etcdDeployment(3, { nope: '1' })).toThrow(/option "nope"/);
    expect(() => etcdDeployment(3, { reads: 'stale' })).toThrow(/linearizable, serializable/);
    expect(() => etcdDeployment(3, { 'heartbeat-ms': '100', 'election-ms': '200' })).toThrow(/5 heartbeats/);
    expect(() => etcdAdapter.deploy({ nodes: 3, bugs: ['x'], options: {}, workload: 'register' })).toThrow(/no seeded bugs/);
  });

  it("deploys e1..eN as members with etcd's command line; a join without member add's record is refused", () => {
    const d = etcdDeployment(3, { reads: 'serializable' });
    expect(d.nodes).toEqual([
      { name: 'e1', role: 'member' },
      { name: 'e2', role: 'member' },
      { name: 'e3', role: 'member' },
    ]);
    expect(d.ports).toEqual({ client: 2379, peer: 2380 });
    expect(d.localPartitioning).toBe('owner');
    expect(d.image).toEqual({ name: 'etcd', binaries: ['/usr/bin/etcd'] });
    expect(d.settings).toMatchObject({ reads: 'serializable', heartbeatMs: 100, electionMs: 1000, preVote: false });
    const nodes = ['e1', 'e2', 'e3'].map((name, i) => ({ name, role: 'member', host: `127.9.9.${i + 2}`, address: `127.9.9.${i + 2}:2379` }));
    const l = d.launch({ provider: 'local', node: nodes[1]!, nodes, dataDir: '/d/e2', join: false });
    const arg = (flag: string) => l.argv[l.argv.indexOf(flag) + 1];
    expect(l.argv[0]).toBe('/usr/bin/etcd');
    expect(arg('--name')).toBe('e2');
    expect(arg('--data-dir')).toBe('/d/e2');
    expect(arg('--listen-client-urls')).toBe('http://127.9.9.3:2379');
    expect(arg('--listen-peer-urls')).toBe('http://127.9.9.3:2380');
    expect(arg('--initial-cluster')).toBe('e1=http://127.9.9.2:2380,e2=http://127.9.9.3:2380,e3=http://127.9.9.4:2380');
    expect(arg('--initial-cluster-state')).toBe('new');
    expect(arg('--initial-cluster-token')).toMatch(/^undertow-[0-9a-f]{16}$/);
    expect(d.clientNodes(nodes)).toEqual(['127.9.9.2:2379', '127.9.9.3:2379', '127.9.9.4:2379']);
    expect(() => d.launch({ provider: 'local', node: nodes[1]!, nodes, dataDir: '/d/e2', join: true })).toThrow(/membership fault/);
    expect(etcdAdapter.capabilities.refusals?.clock).toMatch(/libfaketime/);
    expect(etcdAdapter.capabilities.refusals?.power).toMatch(/LD_PRELOAD/);
  });
});

describe.skipIf(missing !== null)("etcd adapter: the workloads' ops on three members", () => {
  const deployment = deploy(OPTIONS);
  let runDir: string | undefined;
  let cluster: Cluster;
  const clients: Client[] = [];

  beforeAll(async () => {
    runDir = mkdtempSync(join(tmpdir(), 'undertow-etcd-it-'));
    cluster = await localProvider().up({ deployment, runDir, runId: `etcdit${process.pid.toString(36)}` });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.close();
    await cluster?.teardown();
    if (runDir) rmSync(runDir, { recursive: true, force: true });
  });

  async function open(workload: string, node = 0, o: { reads?: string; accounts?: string[] } = {}): Promise<Client> {
    const d = o.reads ? deploy({ ...OPTIONS, reads: o.reads }) : deployment;
    const c = d.client(workload, { nodes: cluster.nodes, opTimeoutMs: 5000, workloadOptions: o.accounts ? { accounts: o.accounts } : {} });
    await c.open(cluster.nodes[node]!.address);
    clients.push(c);
    return c;
  }
  const invoke = (c: Client, o: Invocation): Promise<ClientResult> => c.invoke(o, new AbortController().signal);
  /** Polls the deployment's view until it says ready; whether it did within `ms`. */
  async function ready(ms: number): Promise<boolean> {
    const view = deployment.view(cluster.nodes);
    const end = performance.now() + ms;
    try {
      for (;;) {
        if (await view.ready().catch(() => false)) return true;
        if (performance.now() > end) return false;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      view.close();
    }
  }

  it('the view: ready, one leader among the nodes, one group', async () => {
    const view = deployment.view(cluster.nodes);
    try {
      expect(await view.ready()).toBe(true);
      const leader = await view.leader();
      expect(['e1', 'e2', 'e3']).toContain(leader);
      expect(await view.groups()).toEqual([{ group: 'etcd', primary: leader, secondaries: ['e1', 'e2', 'e3'].filter((n) => n !== leader) }]);
    } finally {
      view.close();
    }
  });

  it('register: read of an absent key, write, read, cas that matches and one that does not', async () => {
    const a = await open('register', 0);
    const b = await open('register', 1);
    expect(await invoke(a, op('read', null, 'r1'))).toEqual({ type: 'ok', value: null });
    expect(await invoke(a, op('write', 3, 'r1'))).toEqual({ type: 'ok' });
    expect(await invoke(b, op('read', null, 'r1'))).toEqual({ type: 'ok', value: 3 });
    expect(await invoke(b, op('cas', [3, 4], 'r1'))).toEqual({ type: 'ok' });
    const no = await invoke(a, op('cas', [3, 5], 'r1'));
    expect(no.type).toBe('fail');
    expect(String(no.error)).toMatch(/not 3/);
    expect(await invoke(a, op('cas', [1, 2], 'absent'))).toMatchObject({ type: 'fail' });
    expect(await invoke(a, op('read', null, 'r1'))).toEqual({ type: 'ok', value: 4 });
    // A serializable read on the third member, which has applied the write by now or shortly.
    const s = await open('register', 2, { reads: 'serializable' });
    let seen: ClientResult = { type: 'fail' };
    for (let i = 0; i < 50 && !(seen.type === 'ok' && seen.value === 4); i++) seen = await invoke(s, op('read', null, 'r1'));
    expect(seen).toEqual({ type: 'ok', value: 4 });
  });

  it('set: concurrent adds through three members all land (compares that lose go again), and read returns them', async () => {
    const cs = await Promise.all([0, 1, 2].map((n) => open('set', n)));
    // Three clients at once, each adding its own third of 0..29.
    const results = await Promise.all(
      cs.map(async (c, n) => {
        const out: ClientResult[] = [];
        for (let i = n; i < 30; i += 3) out.push(await invoke(c, op('add', i)));
        return out;
      }),
    );
    expect(results.flat().every((r) => r.type === 'ok')).toBe(true);
    const read = await invoke(cs[0]!, op('read'));
    expect(read.type).toBe('ok');
    expect([...(read.value as number[])].sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('append: values in append order per key; an absent key reads []', async () => {
    const a = await open('append', 0);
    const b = await open('append', 2);
    expect(await invoke(a, op('read', null, 'k1'))).toEqual({ type: 'ok', value: [] });
    for (const v of [1, 2, 3]) expect(await invoke(v % 2 ? a : b, op('append', v, 'k1'))).toEqual({ type: 'ok' });
    expect(await invoke(b, op('append', 9, 'k2'))).toEqual({ type: 'ok' });
    expect(await invoke(a, op('read', null, 'k1'))).toEqual({ type: 'ok', value: [1, 2, 3] });
    expect(await invoke(b, op('read', null, 'k2'))).toEqual({ type: 'ok', value: [9] });
  });

  it('bank: setup writes, a transfer, an overdraw that fails and changes nothing, concurrent transfers conserve the total', async () => {
    const accounts = ['{bank}a0', '{bank}a1', '{bank}a2'];
    const cs = await Promise.all([0, 1, 2].map((n) => open('bank', n, { accounts })));
    for (const a of accounts) expect(await invoke(cs[0]!, op('write', 10, a))).toEqual({ type: 'ok' });
    expect(await invoke(cs[1]!, op('transfer', { from: accounts[0], to: accounts[1], amount: 4 }))).toEqual({ type: 'ok' });
    expect(await invoke(cs[2]!, op('read'))).toEqual({ type: 'ok', value: { '{bank}a0': 6, '{bank}a1': 14, '{bank}a2': 10 } });
    const over = await invoke(cs[0]!, op('transfer', { from: accounts[0], to: accounts[2], amount: 7 }));
    expect(over.type).toBe('fail');
    expect(String(over.error)).toMatch(/overdraw/);
    expect(await invoke(cs[0]!, op('read'))).toEqual({ type: 'ok', value: { '{bank}a0': 6, '{bank}a1': 14, '{bank}a2': 10 } });
    const rs = await Promise.all(
      cs.map(async (c, n) => {
        const out: ClientResult[] = [];
        for (let i = 0; i < 10; i++)
          out.push(await invoke(c, op('transfer', { from: accounts[(n + i) % 3], to: accounts[(n + i + 1) % 3], amount: 1 + (i % 3) })));
        return out;
      }),
    );
    expect(rs.flat().every((r) => r.type === 'ok' || (r.type === 'fail' && /overdraw/.test(String(r.error))))).toBe(true);
    const final = await invoke(cs[1]!, op('read'));
    const balances = Object.values(final.value as Record<string, number>);
    expect(balances.reduce((x, y) => x + y, 0)).toBe(30);
    expect(balances.every((b) => b >= 0)).toBe(true);
  });

  it('a client stuck to a killed member: writes and reads fail (connection refused), and work again once it is back', async () => {
    const c = await open('register', 2);
    await cluster.kill('e3');
    const w = await invoke(c, op('write', 1, 'r9'));
    expect(w.type).toBe('fail');
    expect(String(w.error)).toMatch(/ECONNREFUSED/);
    expect((await invoke(c, op('read', null, 'r9'))).type).toBe('fail');
    await cluster.start('e3');
    expect(await ready(30_000)).toBe(true);
    let r: ClientResult = { type: 'fail' };
    for (let i = 0; i < 50 && r.type !== 'ok'; i++) {
      r = await invoke(c, op('write', 2, 'r9'));
      if (r.type !== 'ok') await new Promise((x) => setTimeout(x, 100));
    }
    expect(r).toEqual({ type: 'ok' });
  });
});
