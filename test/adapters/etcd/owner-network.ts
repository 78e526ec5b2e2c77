// Partitions for a local etcd cluster (adapters/etcd/local.ts) by iptables
// owner rules, as the local provider cuts nodes with LocalPartitioning
// 'owner': each member's connections marked from their first packet (a chain
// of marks installed before the members start), and a grudge as ownerDrops
// in a chain of its own; both hooked from OUTPUT, both removed at teardown.
// Chains are named UTETCD-<pid>-<block> (not UNDERTOW-: a harness starting
// meanwhile removes UNDERTOW- chains it does not know as a dead run's).

import type { LocalEtcd, LocalNetwork } from '../../../adapters/etcd/local.js';
import { hostNetfilter, installDrops, installMarks, ownerDrops, ownerMarks, removeChain } from '../../../nemesis/iptables.js';

/** The chains of a cluster: the partition's, and its connection marks'. */
export function chainsOf(cluster: LocalEtcd): { drops: string; marks: string } {
  const block = cluster.nodes[0]!.host.split('.').slice(1, 3).join('-');
  const drops = `UTETCD-${process.pid.toString(36)}-${block}`;
  return { drops, marks: `${drops}-m` };
}

export const ownerNetwork: LocalNetwork = {
  async setUp(c) {
    const names = c.nodes.map((n) => n.name);
    await installMarks(
      hostNetfilter(),
      chainsOf(c).marks,
      ownerMarks(
        names,
        (n) => c.uidOf(n),
        (n) => c.hostOf(n),
      ),
    );
  },
  async partition(c, grudge) {
    await installDrops(
      hostNetfilter(),
      chainsOf(c).drops,
      ownerDrops(
        grudge,
        (n) => c.uidOf(n),
        (n) => c.hostOf(n),
      ),
    );
  },
  async heal(c) {
    await removeChain(hostNetfilter(), chainsOf(c).drops);
  },
  async tearDown(c) {
    await removeChain(hostNetfilter(), chainsOf(c).drops);
    await removeChain(hostNetfilter(), chainsOf(c).marks);
  },
};
