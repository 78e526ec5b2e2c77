// Partitions that really cut etcd members apart on loopback: each member runs
// as a uid of its own and dials its peers from 127.0.0.1, so the rules match
// the sender by owner in OUTPUT (nemesis/iptables.ts's ownerDrops). Needs
// root, iptables and /usr/bin/etcd; says which is missing otherwise.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdDeployment } from '../../../adapters/etcd/index.js';
import { etcdMissing, startLocalEtcd, type LocalEtcd } from '../../../adapters/etcd/local.js';
import type { Client, ClientResult } from '../../../harness/core/client.js';
import type { Invocation } from '../../../harness/core/generator/types.js';
import { isolateOne } from '../../../nemesis/grudge.js';
import { hostNetfilter, installDrops, iptablesUsable, leftoverChains, ownerDrops } from '../../../nemesis/iptables.js';
import { chainsOf, ownerNetwork } from './owner-network.js';

const why =
  process.getuid?.() !== 0
    ? 'partitions need root (members under uids of their own, iptables)'
    : (etcdMissing() ?? ((await iptablesUsable()) as { ok: boolean; why?: string }).why ?? null);
if (why) console.log(`etcd partition tests skipped: ${why}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const read = (key: string): Invocation => ({ f: 'read', key, value: null, process: 0, time: 0 });
const write = (key: string, value: number): Invocation => ({ f: 'write', key, value, process: 0, time: 0 });

describe.skipIf(why !== null)('etcd partitions by owner rules on loopback', () => {
  let cluster: LocalEtcd;
  const clients: Client[] = [];
  let leader: string;
  let isolated: string;

  beforeAll(async () => {
    cluster = await startLocalEtcd({ nodes: 3, options: { 'heartbeat-ms': '50', 'election-ms': '500' }, network: ownerNetwork });
    const view = cluster.deployment.view(cluster.nodes);
    leader = (await view.leader())!;
    view.close();
    isolated = cluster.nodes.map((n) => n.name).find((n) => n !== leader)!;
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.close();
    await cluster?.teardown();
    // Nothing of ours left in the host's tables.
    if (cluster) expect(await leftoverChains(hostNetfilter(), chainsOf(cluster).drops)).toEqual([]); // both chains share the prefix
  });

  async function open(node: string, reads: 'linearizable' | 'serializable', opTimeoutMs = 2000): Promise<Client> {
    const c = etcdDeployment(3, { reads }).client('register', { nodes: cluster.nodes, opTimeoutMs, workloadOptions: {} });
    await c.open(cluster.nodes.find((n) => n.name === node)!.address);
    clients.push(c);
    return c;
  }
  const invoke = (c: Client, o: Invocation): Promise<ClientResult> => c.invoke(o, new AbortController().signal);
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
    expect(await cluster.waitReady(20_000)).toBe(true);
    const view = cluster.deployment.view(cluster.nodes);
    leader = (await view.leader())!;
    view.close();
    isolated = cluster.nodes.map((n) => n.name).find((n) => n !== leader)!;
    const major = await open(leader, 'linearizable');
    const staleReader = await open(isolated, 'serializable');
    expect(await until(staleReader, read('y'), (r) => r.type === 'ok', 5000)).toEqual({ type: 'ok', value: null });
    const grudge = { [isolated]: [leader] };
    const uidOf = (n: string) => cluster.uidOf(n);
    const hostOf = (n: string) => cluster.hostOf(n);

    // Dials alone are not enough: with only the leader's packets to the
    // member's address dropped, the leader's messages still arrive on the
    // streams the member dialed, and the member gets the write.
    await installDrops(
      hostNetfilter(),
      chainsOf(cluster).drops,
      ownerDrops(grudge, uidOf, hostOf).filter((d) => d.dialedBy === undefined),
    );
    expect(await until(major, write('y', 1), (r) => r.type === 'ok', 10_000)).toEqual({ type: 'ok' });
    expect(await until(staleReader, read('y'), (r) => r.value === 1, 5000)).toEqual({ type: 'ok', value: 1 });

    // The whole grudge: only `isolated` drops packets from the leader, both
    // the leader's dials to it and the leader's answers on the connections
    // `isolated` opened (marked since they started).
    await cluster.partition(grudge);
    expect(await until(major, write('y', 2), (r) => r.type === 'ok', 10_000)).toEqual({ type: 'ok' });
    for (let i = 0; i < 10; i++) {
      expect(await invoke(staleReader, read('y'))).toEqual({ type: 'ok', value: 1 });
      await sleep(150);
    }
    await cluster.heal();
    expect(await until(staleReader, read('y'), (r) => r.value === 2, 20_000)).toEqual({ type: 'ok', value: 2 });
  });
});
