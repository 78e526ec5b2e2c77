// The power fault in the fault nemesis, on a fake cluster that records what
// it is asked: power-off takes a node (or every node, frozen first), power-on
// brings back only what power took (a kill's `start` does not, nor the other
// way round), heal-all brings back everything, and the report shades
// power-off to power-on.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Invocation } from '../../harness/core/generator/index.js';
import type { Cluster, NodeInfo, PowerLoss } from '../../harness/core/provider.js';
import type { SystemView } from '../../harness/core/system.js';
import type { History, Op } from '../../history/types.js';
import { faultsNemesis } from '../../nemesis/faults.js';
import { faultOps } from '../../nemesis/schedule.js';
import { faultsOf } from '../../results/report-data.js';
import { Random } from '../../harness/core/generator/random.js';

function fakeCluster(names: string[], dataRoot = '/nonexistent') {
  const calls: string[] = [];
  const running = new Set(names);
  const nodes: NodeInfo[] = names.map((name, i) => ({ name, role: 'data', host: `127.0.0.${i + 2}`, address: `127.0.0.${i + 2}:1` }));
  const loss: PowerLoss = { files: ['log'], undone: 42, redone: 0, gone: 0 };
  const cluster: Cluster = {
    nodes,
    async kill(n) {
      calls.push(`kill ${n}`);
      running.delete(n);
    },
    async start(n) {
      calls.push(`start ${n}`);
      running.add(n);
    },
    async powerFail(n) {
      calls.push(`powerFail ${n}`);
      running.delete(n);
      return loss;
    },
    async pause(n) {
      calls.push(`pause ${n}`);
    },
    async resume(n) {
      calls.push(`resume ${n}`);
    },
    async setClockOffset() {},
    async partition() {},
    async heal() {},
    async packet() {},
    async clearPacket() {},
    isRunning: (n) => running.has(n),
    dataDir: (n) => join(dataRoot, n),
    async startFresh() {},
    async teardown() {},
  };
  return { cluster, calls, running };
}

const view: SystemView = { ready: async () => true, leader: async () => 'd1', groups: async () => null, close: () => undefined };
const op = (f: string, value: unknown = null): Invocation => ({ process: 'nemesis', f, value }) as unknown as Invocation;

describe('the power fault', () => {
  it('power-off a node records what was dropped; power-on restarts it', async () => {
    const { cluster, calls, running } = fakeCluster(['d1', 'd2', 'd3']);
    const nemesis = faultsNemesis({ cluster, view, seed: 1 });
    const off = await nemesis.invoke(op('power-off', 'leader'));
    expect(off.value).toEqual({ target: 'leader', node: 'd1', files: ['log'], undoneBytes: 42, redoneWrites: 0 });
    expect(running.has('d1')).toBe(false);
    expect((await nemesis.invoke(op('power-on'))).value).toEqual({ nodes: ['d1'] });
    expect(calls).toEqual(['powerFail d1', 'start d1']);
  });

  it("with kill in force too (--nemesis-overlap): neither takes the other's node, and each restart brings back only its own", async () => {
    const { cluster, calls } = fakeCluster(['d1', 'd2']);
    const nemesis = faultsNemesis({ cluster, view, seed: 1 });
    await nemesis.invoke(op('kill', 'leader'));
    const off = await nemesis.invoke(op('power-off', 'leader'));
    expect(off.value).toMatchObject({ node: null });
    expect((await nemesis.invoke(op('power-off', 'random'))).value).toMatchObject({ node: 'd2' });
    expect((await nemesis.invoke(op('start'))).value).toEqual({ nodes: ['d1'] });
    expect((await nemesis.invoke(op('power-on'))).value).toEqual({ nodes: ['d2'] });
    expect(calls).toEqual(['kill d1', 'powerFail d2', 'start d1', 'start d2']);
  });

  it('target all freezes every node before the first is killed; heal-all powers them back on', async () => {
    const { cluster, calls } = fakeCluster(['d1', 'd2', 'd3']);
    const nemesis = faultsNemesis({ cluster, view, seed: 1 });
    const off = await nemesis.invoke(op('power-off', 'all'));
    expect(off.value).toMatchObject({ target: 'all', nodes: ['d1', 'd2', 'd3'], dropped: { d2: { files: ['log'], undoneBytes: 42 } } });
    expect(calls).toEqual(['pause d1', 'pause d2', 'pause d3', 'powerFail d1', 'powerFail d2', 'powerFail d3']);
    expect((await nemesis.invoke(op('heal-all'))).value).toMatchObject({ poweredOn: ['d1', 'd2', 'd3'] });
  });

  it('is scheduled as power-off TARGET then power-on, and the report shades it from one to the other', () => {
    const ctx = { random: Random.seeded(3) } as unknown as Parameters<typeof faultOps>[1];
    const [start, stop] = faultOps('power', ctx, { kinds: ['power'], nodes: ['d1'], quietMs: 1, holdMs: 1, targets: ['primary'] });
    expect(start).toEqual({ f: 'power-off', value: 'primary' });
    expect(stop).toEqual({ f: 'power-on' });
    const history = [
      { index: 0, time: 1e9, type: 'invoke', process: 'nemesis', f: 'power-off', value: 'primary' },
      { index: 1, time: 2e9, type: 'info', process: 'nemesis', f: 'power-off', value: { node: 'd1' } },
      { index: 2, time: 5e9, type: 'invoke', process: 'nemesis', f: 'power-on', value: null },
      { index: 3, time: 6e9, type: 'info', process: 'nemesis', f: 'power-on', value: { nodes: ['d1'] } },
    ] as unknown as Op[];
    const { faults } = faultsOf(history as History, 0, 10e9);
    expect(faults).toMatchObject([{ f: 'power-off', start: 1, end: 6, healed: true }]);
  });
});

describe('the corrupt fault', () => {
  it('kills the node, changes its data file as recorded, and start restarts it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'undertow-corrupt-nemesis-'));
    mkdirSync(join(root, 'd1'));
    const before = Buffer.concat([Buffer.alloc(200, 0x5a), Buffer.alloc(100)]);
    writeFileSync(join(root, 'd1', 'replicas.log'), before);
    const { cluster, calls, running } = fakeCluster(['d1', 'd2', 'd3'], root);
    const nemesis = faultsNemesis({ cluster, view, seed: 1 });
    const done = (await nemesis.invoke(op('corrupt', { target: 'leader', how: 'bitflip' }))).value as {
      node: string;
      file: string;
      flips: { offset: number; before: number; after: number }[];
    };
    expect(done.node).toBe('d1');
    expect(done.file).toBe('replicas.log');
    expect(running.has('d1')).toBe(false);
    const after = readFileSync(join(root, 'd1', 'replicas.log'));
    for (const f of done.flips) expect([before[f.offset], after[f.offset]]).toEqual([f.before, f.after]);
    expect([...after.keys()].filter((i) => after[i] !== before[i])).toEqual(done.flips.map((f) => f.offset));
    expect((await nemesis.invoke(op('start'))).value).toEqual({ nodes: ['d1'] });
    expect(calls).toEqual(['kill d1', 'start d1']);
  });

  it("damages a minority of each role's nodes in a run: past it, a node it already damaged, or nothing", async () => {
    const root = mkdtempSync(join(tmpdir(), 'undertow-corrupt-nemesis-'));
    for (const n of ['d1', 'd2', 'd3', 'd4', 'd5']) {
      mkdirSync(join(root, n));
      writeFileSync(join(root, n, 'replicas.log'), Buffer.alloc(100, 0x5a));
    }
    const { cluster } = fakeCluster(['d1', 'd2', 'd3', 'd4', 'd5'], root);
    const nemesis = faultsNemesis({ cluster, view, seed: 4 });
    const hit: (string | null)[] = [];
    for (let i = 0; i < 30; i++) {
      hit.push(((await nemesis.invoke(op('corrupt', { target: 'random', how: 'bitflip' }))).value as { node: string | null }).node);
      await nemesis.invoke(op('start'));
    }
    // Two of five (a minority), and every later fault lands on one of those two.
    expect(new Set(hit).size).toBe(2);
    expect(hit).not.toContain(null);
    // The leader (d1) is spared once two others hold the damage.
    const damaged = [...new Set(hit)] as string[];
    if (!damaged.includes('d1')) {
      const v = (await nemesis.invoke(op('corrupt', { target: 'leader', how: 'bitflip' }))).value as { node: string };
      expect(damaged).toContain(v.node);
    }
    // A node alone is no minority of anything: never damaged.
    const one = fakeCluster(['d1'], root);
    expect((await faultsNemesis({ cluster: one.cluster, view, seed: 1 }).invoke(op('corrupt', { target: 'leader', how: 'bitflip' }))).value).toEqual({
      target: 'leader',
      how: 'bitflip',
      node: null,
      note: 'd1 spared: one more of the 1 data node would leave no majority; no damaged node free to hit again',
    });
    expect(one.calls).toEqual([]);
  });

  it('counts damaged and removed nodes together: no removal past a minority, no damage to the last copy of a configuration', async () => {
    const root = mkdtempSync(join(tmpdir(), 'undertow-corrupt-nemesis-'));
    for (const n of ['d1', 'd2', 'd3']) {
      mkdirSync(join(root, n));
      writeFileSync(join(root, n, 'replicas.log'), Buffer.alloc(100, 0x5a));
    }
    const { cluster } = fakeCluster(['d1', 'd2', 'd3'], root);
    const removed = new Map<string, string>();
    const membership = () => ({
      removed,
      remove: async (target: string) => {
        removed.set('d3', target);
        return { role: target, node: 'd3' };
      },
      add: async () => ({ node: null }),
      restoreAll: async () => ({ restored: [] }),
    });
    // g1's configuration is d1 alone (it shrank): d1 holds its only copy.
    const groups = async () => [{ group: 'g1', primary: 'd1', secondaries: [] }];
    const nemesis = faultsNemesis({ cluster, view: { ...view, groups }, membership, seed: 2 });
    expect((await nemesis.invoke(op('corrupt', { target: 'leader', how: 'bitflip' }))).value).toMatchObject({
      node: null,
      note: 'd1 spared: the only undamaged replica of g1 in its configuration; no damaged node free to hit again',
    });
    // d3 out by a membership change: with one of three lost, the next damage would leave no majority.
    expect((await nemesis.invoke(op('member-remove', 'data'))).value).toEqual({ role: 'data', node: 'd3' });
    const two = faultsNemesis({ cluster, view, membership, seed: 2 });
    expect((await two.invoke(op('corrupt', { target: 'leader', how: 'bitflip' }))).value).toMatchObject({
      node: null,
      note: 'd1 spared: with d3 lost (damaged or removed), one more of the 3 data nodes would leave no majority; no damaged node free to hit again',
    });
    // And the other way round: with d2 damaged, no removal.
    removed.clear();
    const three = faultsNemesis({ cluster, view: { ...view, leader: async () => 'd2' }, membership, seed: 2 });
    expect((await three.invoke(op('corrupt', { target: 'leader', how: 'bitflip' }))).value).toMatchObject({ node: 'd2' });
    await three.invoke(op('start'));
    expect((await three.invoke(op('member-remove', 'data'))).value).toEqual({
      role: 'data',
      node: null,
      note: 'no removal: d2 damaged, another node out would leave no majority',
    });
    expect(removed.size).toBe(0);
  });

  it('with nothing to aim at, says so and changes nothing', async () => {
    const { cluster, calls } = fakeCluster(['d1'], mkdtempSync(join(tmpdir(), 'undertow-corrupt-nemesis-')));
    const nemesis = faultsNemesis({ cluster, view: { ...view, leader: async () => null }, seed: 1 });
    expect((await nemesis.invoke(op('corrupt', { target: 'leader', how: 'truncate' }))).value).toEqual({
      target: 'leader',
      how: 'truncate',
      node: null,
      note: 'no leader to corrupt',
    });
    expect(calls).toEqual([]);
  });
});
