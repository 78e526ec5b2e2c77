// The harness's questions about a running etcd cluster (readiness, the
// leader) and the member API the membership fault uses, through the JSON
// gateway of each member.
//
// Member ids are etcd's (uint64, kept as decimal strings). A member is mapped
// to a node by the host of its peer URL (every node listens on its own
// address), which also works for a member added but never started (no name yet).

import type { NodeInfo } from '../../harness/core/provider.js';
import type { GroupRoles, SystemView } from '../../harness/core/system.js';
import { Gateway, type Member, type StatusResponse } from './gateway.js';

/** How long one question to one member may take. */
export const ASK_MS = 1500;

export class EtcdAdmin {
  private readonly gateways = new Map<string, Gateway>();
  private readonly byHost = new Map<string, string>();

  constructor(readonly nodes: readonly NodeInfo[]) {
    for (const n of nodes) this.byHost.set(n.host, n.name);
  }

  private gw(node: string): Gateway {
    let g = this.gateways.get(node);
    if (!g) {
      const info = this.nodes.find((n) => n.name === node);
      if (!info) throw new RangeError(`no node ${node}`);
      g = new Gateway(info.address);
      this.gateways.set(node, g);
    }
    return g;
  }

  /** The node a member is, by its peer URL's host (or its name); null if none of ours. */
  nodeOf(m: Member): string | null {
    for (const u of m.peerURLs ?? []) {
      try {
        const n = this.byHost.get(new URL(u).hostname);
        if (n) return n;
      } catch {
        // not a URL: try the next
      }
    }
    return m.name && this.nodes.some((n) => n.name === m.name) ? m.name : null;
  }

  status(node: string, ms = ASK_MS): Promise<StatusResponse> {
    return this.gw(node).post<StatusResponse>('/v3/maintenance/status', {}, { timeoutMs: ms });
  }

  async members(node: string, ms = ASK_MS): Promise<Member[]> {
    return (await this.gw(node).post<{ members?: Member[] }>('/v3/cluster/member/list', {}, { timeoutMs: ms })).members ?? [];
  }

  memberAdd(node: string, peerURL: string, learner: boolean, ms = ASK_MS): Promise<{ member?: Member; members?: Member[] }> {
    return this.gw(node).post('/v3/cluster/member/add', { peerURLs: [peerURL], ...(learner ? { isLearner: true } : {}) }, { timeoutMs: ms });
  }

  memberRemove(node: string, id: string, ms = ASK_MS): Promise<{ members?: Member[] }> {
    return this.gw(node).post('/v3/cluster/member/remove', { ID: id }, { timeoutMs: ms });
  }

  memberPromote(node: string, id: string, ms = ASK_MS): Promise<{ members?: Member[] }> {
    return this.gw(node).post('/v3/cluster/member/promote', { ID: id }, { timeoutMs: ms });
  }

  /** Every node's status, or why it gave none. */
  statuses(ms = ASK_MS): Promise<{ node: string; status?: StatusResponse; error?: string }[]> {
    return Promise.all(
      this.nodes.map((n) =>
        this.status(n.name, ms).then(
          (status) => ({ node: n.name, status }),
          (e: Error) => ({ node: n.name, error: e.message }),
        ),
      ),
    );
  }

  /** The member list from the first of `nodes` that answers; null if none does. */
  async anyMembers(nodes: readonly string[] = this.nodes.map((n) => n.name), ms = ASK_MS): Promise<{ via: string; members: Member[] } | null> {
    for (const node of nodes) {
      try {
        return { via: node, members: await this.members(node, ms) };
      } catch {
        // ask the next
      }
    }
    return null;
  }

  close(): void {
    for (const g of this.gateways.values()) g.close();
    this.gateways.clear();
  }
}

const isLeaderId = (id: string | undefined): id is string => id !== undefined && id !== '' && id !== '0';

/** Who leads, as most answering members say, mapped to a node; null if none is known. */
export async function leaderOf(admin: EtcdAdmin): Promise<string | null> {
  const answers = (await admin.statuses()).filter((a) => a.status && !a.status.errors?.length);
  const votes = new Map<string, number>();
  for (const a of answers) if (isLeaderId(a.status!.leader)) votes.set(a.status!.leader!, (votes.get(a.status!.leader!) ?? 0) + 1);
  if (votes.size === 0) return null;
  const id = [...votes.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))[0]![0];
  // Each member's status header carries its own id.
  const self = answers.find((a) => a.status!.header?.member_id === id);
  if (self) return self.node;
  const list = await admin.anyMembers(answers.map((a) => a.node));
  const m = list?.members.find((x) => x.ID === id);
  return m ? admin.nodeOf(m) : null;
}

export interface EtcdView extends SystemView {
  readonly admin: EtcdAdmin;
}

export function etcdView(nodes: readonly NodeInfo[]): EtcdView {
  const admin = new EtcdAdmin(nodes);
  return {
    admin,
    /** Every node answers its status without errors, as a voter, and they all name the same leader. */
    async ready() {
      const all = await admin.statuses();
      const leaders = new Set(all.map((a) => a.status?.leader));
      return all.every((a) => a.status && !a.status.errors?.length && a.status.isLearner !== true && isLeaderId(a.status.leader)) && leaders.size === 1;
    },
    leader: () => leaderOf(admin),
    /** One group: the leader, and the other nodes in the member list. */
    async groups(): Promise<GroupRoles[] | null> {
      const leader = await leaderOf(admin);
      if (leader === null) return null;
      const list = await admin.anyMembers([leader, ...nodes.map((n) => n.name).filter((n) => n !== leader)]);
      if (list === null) return null;
      const members = new Set(list.members.map((m) => admin.nodeOf(m)));
      return [{ group: 'etcd', primary: leader, secondaries: nodes.map((n) => n.name).filter((n) => n !== leader && members.has(n)) }];
    },
    close: () => admin.close(),
  };
}
