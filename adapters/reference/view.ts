// What the harness asks the reference system's CM about the cluster: who
// leads the CM, each group's configuration, and whether the cluster is ready
// for a test (a CM leader, every group fully replicated). The nemesis uses it
// (as a SystemView) to aim faults at the primary of a group or the CM leader.

import type { NodeInfo } from '../../harness/core/provider.js';
import type { GroupRoles, SystemView } from '../../harness/core/system.js';
import type { GroupConfig } from '../../system-under-test/cm/state.js';
import { CmClient, type GetResponse, type StatusResponse } from '../../system-under-test/runtime/client.js';
import { UNSERVED } from './client.js';

export class ClusterView {
  private readonly cm: CmClient;

  constructor(private readonly nodes: readonly NodeInfo[]) {
    this.cm = new CmClient(
      nodes.filter((n) => n.role === 'cm').map((n) => n.address),
      { timeoutMs: 2000, attemptMs: 500 },
    );
  }

  /** The CM leader's node name, asking every CM node (a node's own view; the freshest term wins). */
  async cmLeader(): Promise<string | null> {
    return leaderOf(Object.values(await this.cmStatuses()))?.leader ?? null;
  }

  /** Every CM node's own status (role, term, leader, its latest membership), null where it does not answer. */
  async cmStatuses(): Promise<Record<string, StatusResponse | null>> {
    const cms = this.nodes.filter((n) => n.role === 'cm');
    const answers = await Promise.all(
      cms.map(async (n) => {
        const c = new CmClient([n.address], { timeoutMs: 500, attemptMs: 500 });
        try {
          const r = await c.request({ op: 'status' });
          return r.ok ? (r as unknown as StatusResponse) : null;
        } finally {
          c.close();
        }
      }),
    );
    return Object.fromEntries(cms.map((n, i) => [n.name, answers[i]]));
  }

  /** Every data group's configuration, or null when the CM does not answer (the version-register workload's groups, which no data server serves, are left out). */
  async groups(): Promise<Record<string, GroupConfig> | null> {
    const r = await this.cm.request({ op: 'get' });
    if (!r.ok) return null;
    const groups = (r as unknown as GetResponse).groups;
    return Object.fromEntries(Object.entries(groups).filter(([, g]) => g.primary !== UNSERVED));
  }

  close(): void {
    this.cm.close();
  }
}

/** Every group has a primary and `replication - 1` secondaries. */
export function fullyReplicated(groups: Record<string, GroupConfig> | null, count: number, replication: number): boolean {
  if (groups === null) return false;
  const all = Object.values(groups);
  return all.length === count && all.every((g) => g.primary !== '' && g.secondaries.length === replication - 1);
}

/** The status that names a leader with the freshest term, or null. */
export function leaderOf(statuses: readonly (StatusResponse | null)[]): StatusResponse | null {
  let best: StatusResponse | null = null;
  for (const a of statuses) if (a && a.leader !== null && (best === null || a.term > best.term)) best = a;
  return best;
}

/** The SystemView of a reference cluster of `groups` groups of `replication` replicas (none: the CM alone). */
export function referenceView(nodes: readonly NodeInfo[], layout: { groups: number; replication: number }): SystemView & { readonly cluster: ClusterView } {
  const cluster = new ClusterView(nodes);
  const hasData = nodes.some((n) => n.role === 'data');
  return {
    cluster,
    async ready() {
      if (!hasData) return (await cluster.cmLeader()) !== null;
      return fullyReplicated(await cluster.groups(), layout.groups, layout.replication);
    },
    leader: () => cluster.cmLeader(),
    async groups(): Promise<GroupRoles[] | null> {
      const gs = await cluster.groups();
      if (gs === null) return null;
      return Object.keys(gs)
        .sort()
        .map((group) => ({ group, primary: gs[group].primary, secondaries: [...gs[group].secondaries] }));
    },
    close: () => cluster.close(),
  };
}
