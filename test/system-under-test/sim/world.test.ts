// The whole-system world of --provider sim, below the harness: it boots (a CM
// leader, every group open), its client logic gives honest outcomes, grudges
// and packet faults act on the network, and a seed gives one trace.

import { describe, expect, it } from 'vitest';
import type { KvOutcome } from '../../../system-under-test/client/kv-client.js';
import { groupOf } from '../../../system-under-test/pacifica/placement.js';
import { SimKvClient } from '../../../system-under-test/sim/kv-client.js';
import { SimNetwork, type Addressed } from '../../../system-under-test/sim/network.js';
import { World } from '../../../system-under-test/sim/world.js';
import { mulberry32 } from '../../../system-under-test/util/prng.js';

const world = (seed: number) => new World({ seed, cmNodes: 3, dataNodes: 3, groups: 3, replication: 3, bugs: new Set() });

function boot(w: World): void {
  while (!w.ready()) {
    w.step();
    if (w.now > 20_000) throw new Error('not ready after 20 virtual seconds');
  }
}

/** Steps the world until `p` settles; its outcome. */
async function settle(w: World, p: Promise<KvOutcome>, limitMs = 10_000): Promise<KvOutcome> {
  let out: KvOutcome | undefined;
  void p.then((o) => (out = o));
  const end = w.now + limitMs;
  while (out === undefined && w.now < end) {
    const before = w.clientOutcomes;
    w.step();
    if (w.clientOutcomes !== before) await new Promise((r) => setImmediate(r));
  }
  if (out === undefined) throw new Error('no outcome');
  return out;
}

describe('the simulated world', () => {
  it('boots: a CM leader, every group at a version, every data server open', () => {
    const w = world(1);
    boot(w);
    expect(w.leader()).toMatch(/^n[123]$/);
    expect(Object.keys(w.groups()!).sort()).toEqual(['g0', 'g1', 'g2']);
    expect(w.now).toBeLessThan(5000);
  });

  it('the same seed gives the same trace, another seed another', () => {
    const run = (seed: number) => {
      const w = world(seed);
      for (let i = 0; i < 3000; i++) w.step();
      return w.trace();
    };
    expect(run(4)).toBe(run(4));
    expect(run(4)).not.toBe(run(5));
  });

  it('a client writes, reads it back, and a cas that does not match fails definitely', async () => {
    const w = world(2);
    boot(w);
    const c = new SimKvClient(w, 'c1', { timeoutMs: 2500, configLeaseMs: 5000, groups: 3 });
    expect(await settle(w, c.write('k', 3))).toEqual({ type: 'ok' });
    expect(await settle(w, c.read('k'))).toEqual({ type: 'ok', value: 3 });
    expect(await settle(w, c.cas('k', 1, 2))).toEqual({ type: 'fail', error: 'cas-mismatch' });
  });

  it('a write to a primary cut off from its secondaries is info (unknown), never ok or fail', async () => {
    const w = world(3);
    boot(w);
    const c = new SimKvClient(w, 'c1', { timeoutMs: 2500, configLeaseMs: 5000, groups: 3 });
    expect((await settle(w, c.read('k'))).type).toBe('ok'); // the configuration is cached now
    const cfg = w.groups()![groupOf('k', 3)];
    const all = [...w.cmIds, ...w.dataIds].filter((n) => n !== cfg.primary);
    w.partition({ [cfg.primary]: all, ...Object.fromEntries(all.map((n) => [n, [cfg.primary]])) });
    expect(await settle(w, c.write('k', 1))).toEqual({ type: 'info', error: 'timeout' });
  });

  it('a write to a killed primary is refused at once and retried elsewhere, or fails definitely', async () => {
    const w = world(6);
    boot(w);
    const c = new SimKvClient(w, 'c1', { timeoutMs: 2500, configLeaseMs: 5000, groups: 3 });
    expect((await settle(w, c.read('k'))).type).toBe('ok');
    w.kill(w.groups()![groupOf('k', 3)].primary);
    const o = await settle(w, c.write('k', 1));
    expect(o.type === 'ok' || (o.type === 'fail' && o.error === 'connection-refused')).toBe(true);
  });
});

describe('SimNetwork grudges and packet faults', () => {
  const msg = (from: string, to: string): Addressed => ({ from, to });

  it('a node drops what the nodes it holds a grudge against send it, one way only', () => {
    const net = new SimNetwork<Addressed>(mulberry32(1), { loss: 0, duplicate: 0, maxDelay: 0 });
    net.setGrudge({ a: ['b'] });
    net.send(0, msg('b', 'a'));
    net.send(0, msg('a', 'b'));
    expect(net.due(0)).toEqual([msg('a', 'b')]);
    net.heal();
    net.send(1, msg('b', 'a'));
    expect(net.due(1)).toEqual([msg('b', 'a')]);
  });

  it('a packet fault delays, drops and duplicates only what the chosen nodes send', () => {
    const net = new SimNetwork<Addressed>(mulberry32(2), { loss: 0, duplicate: 0, maxDelay: 0 });
    net.setLinkFault(['a'], { delay: 50, jitter: 0, loss: 0, duplicate: 1, reorder: 0 });
    net.send(0, msg('a', 'b'));
    net.send(0, msg('b', 'a'));
    expect(net.due(0)).toEqual([msg('b', 'a')]);
    expect(net.due(50)).toEqual([msg('a', 'b'), msg('a', 'b')]);
    net.setLinkFault(['a'], { delay: 0, jitter: 0, loss: 1, duplicate: 0, reorder: 0 });
    net.send(60, msg('a', 'b'));
    expect(net.due(60)).toEqual([]);
    net.clearLinkFaults();
    net.send(61, msg('a', 'b'));
    expect(net.due(61)).toEqual([msg('a', 'b')]);
  });
});
