// End to end with real OS processes: `undertow-node cm` started through
// vite-node (no build step needed), killed with SIGKILL, restarted from disk.

import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CmClient, type CmResponse } from '../../../system-under-test/runtime/client.js';
import { LocalCmCluster, until } from '../../../system-under-test/runtime/local-cluster.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const VITE_NODE = path.join(ROOT, 'node_modules/vite-node/vite-node.mjs');
const BIN = path.join(ROOT, 'system-under-test/bin/undertow-node.ts');

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

async function cluster(ids: string[], founders: string[]): Promise<LocalCmCluster> {
  const c = await LocalCmCluster.create({
    ids,
    founders,
    program: [process.execPath, VITE_NODE, BIN, '--'],
    cwd: ROOT,
    args: ['--tick-ms', '20', '--election-ticks', '10'],
  });
  cleanups.push(() => c.closeSync());
  return c;
}

describe('undertow-node cm as OS processes', () => {
  it('3 processes: elect, kill -9 the leader and see a new one within 2 s, restart all and recover', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const nodes = await cluster(ids, ids);
    for (const id of ids) nodes.start(id);
    const first = await until('a leader', () => nodes.leader(), 15_000);
    const client = nodes.client();
    expect(await client.request({ op: 'registerServer', id: 'd1', address: 'x:1' })).toMatchObject({ ok: true });
    expect(await client.request({ op: 'registerServer', id: 'd2', address: 'x:2' })).toMatchObject({ ok: true });
    expect(await client.request({ op: 'createGroups', groups: { g1: { primary: 'd1', secondaries: ['d2'] } } })).toMatchObject({ ok: true });
    expect(await client.request({ op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd2', secondaries: ['d1'] } })).toMatchObject({
      ok: true,
      group: { version: 2 },
    });

    const killed = Date.now();
    await nodes.kill(first);
    const second = await until(
      'a new leader',
      async () => {
        const l = await nodes.leader();
        return l !== undefined && l !== first ? l : undefined;
      },
      2000,
    );
    expect(Date.now() - killed).toBeLessThan(2000);
    expect(second).not.toBe(first);
    expect(await client.request({ op: 'reconfigure', group: 'g1', expectedVersion: 2, config: { primary: 'd1', secondaries: [] } })).toMatchObject({
      ok: true,
      group: { version: 3 },
    });

    for (const id of [...nodes.procs.keys()]) await nodes.kill(id);
    for (const id of ids) nodes.start(id);
    await until('a leader after restarting all', () => nodes.leader(), 15_000);
    expect(await client.request({ op: 'get', group: 'g1' })).toMatchObject({ ok: true, groups: { g1: { version: 3, primary: 'd1' } } });
    const lines = [...nodes.out.values()].flat();
    expect(lines.some((l) => l.includes('"event":"role"') && l.includes('"role":"leader"'))).toBe(true);
    expect(lines.some((l) => l.includes('"event":"start"'))).toBe(true);
  }, 60_000);

  it('5 processes: grow 3 -> 5 and shrink 5 -> 3 while reconfigures keep succeeding', async () => {
    const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const nodes = await cluster(ids, ['n1', 'n2', 'n3']);
    for (const id of ids) nodes.start(id, !['n1', 'n2', 'n3'].includes(id));
    await until('a leader', () => nodes.leader(), 15_000);
    const client = nodes.client();
    for (const d of ['d1', 'd2']) expect(await client.request({ op: 'registerServer', id: d, address: `${d}:1` })).toMatchObject({ ok: true });
    expect(await client.request({ op: 'createGroups', groups: { g1: { primary: 'd1', secondaries: [] } } })).toMatchObject({ ok: true });

    let version = 1;
    let ok = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        const r: CmResponse = await client.request({
          op: 'reconfigure',
          group: 'g1',
          expectedVersion: version,
          config: { primary: version % 2 ? 'd2' : 'd1', secondaries: [] },
        });
        if (r.ok) {
          version++;
          ok++;
        } else if (r.error === 'version-mismatch' && r.group !== undefined) version = r.group.version;
      }
    })();
    const votersAre = async (want: string[]) => {
      const st = await client.request({ op: 'status' });
      const cfg = st.ok ? (st.config as { voters: string[]; outgoing: string[] }) : undefined;
      return cfg !== undefined && cfg.outgoing.length === 0 && JSON.stringify(cfg.voters) === JSON.stringify(want) ? true : undefined;
    };
    const step = async (req: Parameters<CmClient['request']>[0], want: string[]) => {
      const before = ok;
      await until(`${JSON.stringify(req)}`, async () => ((await client.request(req)).ok ? true : undefined), 10_000);
      await until(`voters ${want.join(',')}`, () => votersAre(want), 10_000);
      await until('a write after the change', async () => (ok > before ? true : undefined), 10_000);
    };
    await step({ op: 'addMember', id: 'n4', address: nodes.addr.n4 }, ['n1', 'n2', 'n3', 'n4']);
    await step({ op: 'addMember', id: 'n5', address: nodes.addr.n5 }, ['n1', 'n2', 'n3', 'n4', 'n5']);
    await step({ op: 'removeMember', id: 'n1' }, ['n2', 'n3', 'n4', 'n5']);
    await step({ op: 'removeMember', id: 'n2' }, ['n3', 'n4', 'n5']);
    stop = true;
    await writer;
    expect(ok).toBeGreaterThan(4);
    const lines = [...nodes.out.values()].flat();
    expect(lines.some((l) => l.includes('"event":"membership"') && l.includes('"voters":["n3","n4","n5"]'))).toBe(true);
  }, 90_000);
});
