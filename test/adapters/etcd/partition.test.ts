// Partitions that really cut etcd members apart on loopback, through the
// harness's local provider: it runs each member as a uid of its own
// (NODE_UID_BASE + 1, + 2, ...), marks their connections before they start,
// and cuts a grudge with owner rules in OUTPUT (etcd dials its peers from
// 127.0.0.1; nemesis/iptables.ts's ownerDrops). Needs root, iptables and
// /usr/bin/etcd; says which is missing otherwise.

import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_BINARY, etcdAdapter } from '../../../adapters/etcd/index.js';
import type { Client, ClientResult } from '../../../harness/core/client.js';
import type { Invocation } from '../../../harness/core/generator/types.js';
import type { Cluster } from '../../../harness/core/provider.js';
import type { Deployment } from '../../../harness/core/system.js';
import { localProvider, NODE_UID_BASE } from '../../../harness/providers/local.js';
import { resolveOptions } from '../../../harness/core/options.js';
import { isolateOne } from '../../../nemesis/grudge.js';
import { chainName, hostNetfilter, installDrops, iptablesUsable, leftoverChains, ownerDrops, removeChain } from '../../../nemesis/iptables.js';

function etcdMissing(): string | null {
  try {
    accessSync(ETCD_BINARY, constants.X_OK);
    return null;
  } catch {
    return `${ETCD_BINARY} is not installed: apt-get install -y etcd-server etcd-client`;
  }
}
const usable = await iptablesUsable();
const why = process.getuid?.() !== 0 ? 'partitions need root (members under uids of their own, iptables)' : (etcdMissing() ?? (usable.ok ? null : usable.why));
if (why) console.log(`etcd partition tests skipped: ${why}`);

/** The deployment as the harness makes it: every option, the given ones checked and the rest at their defaults. */
const deploy = (options: Readonly<Record<string, string>>): Deployment =>
  etcdAdapter.deploy({ nodes: 3, bugs: [], options: resolveOptions(etcdAdapter, options), workload: 'register' });
const OPTIONS = { 'heartbeat-ms': '50', 'election-ms': '500' };
/** Short enough that chainName keeps it as it is: the partition's chain, UNDERTOW-<runId>, is then a prefix of the marks' (UNDERTOW-<runId>-m). */
const runId = `etcdp${process.pid.toString(36)}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const read = (key: string): Invocation => ({ f: 'read', key, value: null, process: 0, time: 0 });
const write = (key: string, value: number): Invocation => ({ f: 'write', key, value, process: 0, time: 0 });

describe.skipIf(why !== null)('etcd partitions by owner rules on loopback', () => {
  const deployment = deploy(OPTIONS);
  let runDir: string | undefined;
  let cluster: Cluster;
  const clients: Client[] = [];
  let leader: string;
  let isolated: string;
  /** Drops put in the run's chain past the provider (the one-way test's first half), until cluster.partition takes the chain over. */
  let ownDrops = false;

  const leaderNow = async (): Promise<string> => {
    const view = deployment.view(cluster.nodes);
    try {
      return (await view.leader())!;
    } finally {
      view.close();
    }
  };

  beforeAll(async () => {
    runDir = mkdtempSync(join(tmpdir(), 'undertow-etcd-part-'));
    cluster = await localProvider().up({ deployment, runDir, runId });
    leader = await leaderNow();
    isolated = cluster.nodes.map((n) => n.name).find((n) => n !== leader)!;
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.close();
    if (ownDrops) await removeChain(hostNetfilter(), chainName(runId));
    await cluster?.teardown();
    if (runDir) rmSync(runDir, { recursive: true, force: true });
    // Nothing of ours left in the host's tables: neither the partition's chain nor the marks'.
    if (cluster) expect(await leftoverChains(hostNetfilter(), chainName(runId))).toEqual([]);
  });

  async function open(node: string, reads: 'linearizable' | 'serializable', opTimeoutMs = 2000): Promise<Client> {
    const c = deploy({ ...OPTIONS, reads }).client('register', { nodes: cluster.nodes, opTimeoutMs, workloadOptions: {} });
    await c.open(cluster.nodes.find((n) => n.name === node)!.address);
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
        await sleep(100);
      }
    } finally {
      view.close();
    }
  }
  /** The uid of the member's running process (found by its data dir, under the run's folder). */
  function processUid(node: string): number | undefined {
    const dataDir = join(runDir!, 'nodes', node, 'data');
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir)) continue;
        return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
      } catch {
        /* gone */
      }
    }
    return undefined;
  }
  /** Repeats `o` until its answer satisfies `ok`, for up to `ms`; the last answer. */
  async function until(c: Client, o: Invocation, ok: (r: ClientResult) => boolean, ms: number): Promise<ClientResult> {
    const end = performance.now() + ms;
    for (;;) {
      const r = await invoke(c, o);
      if (ok(r) || performance.now() > end) return r;
      await sleep(100);
    }
  }

  it('an isolated member misses what the majority writes (stale serializable reads, no linearizable ones) and catches up after healing', async () => {
    const major = await open(leader, 'linearizable');
    const staleReader = await open(isolated, 'serializable');
    const strictReader = await open(isolated, 'linearizable');
    expect(await invoke(major, write('x', 1))).toEqual({ type: 'ok' });
    expect(await until(staleReader, read('x'), (r) => r.value === 1, 5000)).toEqual({ type: 'ok', value: 1 });

    await cluster.partition(
      isolateOne(
        cluster.nodes.map((n) => n.name),
        isolated,
      ),
    );
    // The majority (the leader and the third member) goes on.
    expect(await until(major, write('x', 2), (r) => r.type === 'ok', 10_000)).toEqual({ type: 'ok' });
    expect(await invoke(major, read('x'))).toEqual({ type: 'ok', value: 2 });
    // The isolated member never gets it: its own state stays at 1 ...
    for (let i = 0; i < 10; i++) {
      expect(await invoke(staleReader, read('x'))).toEqual({ type: 'ok', value: 1 });
      await sleep(150);
    }
    // ... and a linearizable read there cannot complete: fail (a read), never a stale ok.
    const strict = await invoke(strictReader, read('x'));
    expect(strict.type).toBe('fail');
    expect(String(strict.error)).toMatch(/timed out|request timed out|no leader/);

    await cluster.heal();
    expect(await until(staleReader, read('x'), (r) => r.value === 2, 20_000)).toEqual({ type: 'ok', value: 2 });
    expect(await until(strictReader, read('x'), (r) => r.type === 'ok', 20_000)).toEqual({ type: 'ok', value: 2 });
  });

  it("a one-way grudge cuts the replies too: a member that drops the leader's packets misses its writes, though it dialed the streams they come on", async () => {
    // The member isolated before may have made an election on its return (a higher term): ask again who leads.
    expect(await ready(20_000)).toBe(true);
    leader = await leaderNow();
    isolated = cluster.nodes.map((n) => n.name).find((n) => n !== leader)!;
    const major = await open(leader, 'linearizable');
    const staleReader = await open(isolated, 'serializable');
    expect(await until(staleReader, read('y'), (r) => r.type === 'ok', 5000)).toEqual({ type: 'ok', value: null });
    const grudge = { [isolated]: [leader] };
    // Each member's uid and address, as the provider gives them (its uids: NODE_UID_BASE + 1 for the first node, and so on);
    // the uids checked against the members' processes, since the first half below would pass with rules that match nobody.
    const uidOf = (n: string) => NODE_UID_BASE + cluster.nodes.findIndex((x) => x.name === n) + 1;
    const hostOf = (n: string) => cluster.nodes.find((x) => x.name === n)!.host;
    for (const n of [isolated, leader]) expect(processUid(n)).toBe(uidOf(n));

    // Dials alone are not enough: with only the leader's packets to the
    // member's address dropped, the leader's messages still arrive on the
    // streams the member dialed, and the member gets the write.
    // (They go in the run's own chain, which cluster.partition below takes over; afterAll removes them if the test stops before.)
    ownDrops = true;
    await installDrops(
      hostNetfilter(),
      chainName(runId),
      ownerDrops(grudge, uidOf, hostOf).filter((d) => d.dialedBy === undefined),
    );
    expect(await until(major, write('y', 1), (r) => r.type === 'ok', 10_000)).toEqual({ type: 'ok' });
    expect(await until(staleReader, read('y'), (r) => r.value === 1, 5000)).toEqual({ type: 'ok', value: 1 });

    // The whole grudge: only `isolated` drops packets from the leader, both
    // the leader's dials to it and the leader's answers on the connections
    // `isolated` opened (marked since they started).
    await cluster.partition(grudge);
    ownDrops = false;
    expect(await until(major, write('y', 2), (r) => r.type === 'ok', 10_000)).toEqual({ type: 'ok' });
    for (let i = 0; i < 10; i++) {
      expect(await invoke(staleReader, read('y'))).toEqual({ type: 'ok', value: 1 });
      await sleep(150);
    }
    await cluster.heal();
    expect(await until(staleReader, read('y'), (r) => r.value === 2, 20_000)).toEqual({ type: 'ok', value: 2 });
  });
});
