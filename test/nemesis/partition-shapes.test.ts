// The role-aimed partition shapes on a fake cluster whose view names a
// group's primary and secondaries: what each cuts, and that a shape with no
// role to aim at says so instead of pretending.

import { describe, expect, it } from 'vitest';
import type { Invocation } from '../../harness/core/generator/index.js';
import type { Cluster, Grudge, NodeInfo } from '../../harness/core/provider.js';
import type { GroupRoles, SystemView } from '../../harness/core/system.js';
import { faultsNemesis } from '../../nemesis/faults.js';

function fakeCluster(names: string[]) {
  const grudges: Grudge[] = [];
  const nodes: NodeInfo[] = names.map((name, i) => ({ name, role: 'data', host: `127.0.0.${i + 2}`, address: `127.0.0.${i + 2}:1` }));
  const cluster = {
    nodes,
    async partition(g: Grudge) {
      grudges.push(g);
    },
    async heal() {},
    isRunning: () => true,
  } as unknown as Cluster;
  return { cluster, grudges };
}

const viewOf = (groups: GroupRoles[] | null): SystemView => ({
  ready: async () => true,
  leader: async () => null,
  groups: async () => groups,
  close: () => undefined,
});
const op = (f: string, value: unknown = null): Invocation => ({ process: 'nemesis', f, value }) as unknown as Invocation;

describe('the secondary partition', () => {
  it('cuts one secondary of a group from its primary only, both ways, and says which', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { cluster, grudges } = fakeCluster(['n1', 'd1', 'd2', 'd3']);
      const view = viewOf([{ group: 'g0', primary: 'd1', secondaries: ['d2', 'd3'] }]);
      const r = (await faultsNemesis({ cluster, view, seed }).invoke(op('partition', 'secondary'))).value as { about: string };
      const g = grudges[0];
      const [s] = Object.keys(g).filter((n) => n !== 'd1');
      expect(['d2', 'd3']).toContain(s);
      expect(g).toEqual({ d1: [s], [s]: ['d1'] });
      expect(r.about).toBe(`secondary ${s} of g0 cut off from its primary d1`);
    }
  });

  it('with no group that has a secondary, isolates one node and records that no secondary was known', async () => {
    const { cluster } = fakeCluster(['d1', 'd2']);
    const view = viewOf([{ group: 'g0', primary: 'd1', secondaries: [] }]);
    const r = (await faultsNemesis({ cluster, view, seed: 3 }).invoke(op('partition', 'secondary'))).value as { about: string };
    expect(r.about).toMatch(/^no secondary known: one node isolated/);
  });
});
