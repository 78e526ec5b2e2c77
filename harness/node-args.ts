// The command lines of a cluster's nodes, the same for every provider: which
// node gets which `undertow-node` arguments, given where each one listens.
// Seeded bugs go to the role that has them (a CM node refuses a data-plane
// bug name, and the other way round).

import { CM_BUGS } from '../system-under-test/cm/state.js';
import { PACIFICA_BUGS } from '../system-under-test/pacifica/types.js';
import { RAFT_BUGS } from '../system-under-test/raft/node.js';
import { InputError } from '../history/input-error.js';
import type { ClusterSpec, NodeInfo, NodeRole } from './provider.js';

const CM_SIDE = new Set<string>([...RAFT_BUGS, ...CM_BUGS]);
const DATA_SIDE = new Set<string>(PACIFICA_BUGS);
export const KNOWN_BUGS: readonly string[] = [...CM_SIDE, ...DATA_SIDE];

export function checkBugs(bugs: readonly string[]): void {
  for (const b of bugs) {
    if (!CM_SIDE.has(b) && !DATA_SIDE.has(b)) throw new InputError(`unknown bug ${JSON.stringify(b)}`, {}, `use one of: ${KNOWN_BUGS.join(', ')}`);
  }
}

/** n1..nC, then d1..dD. */
export function nodeNames(spec: Pick<ClusterSpec, 'cm' | 'data'>): { name: string; role: NodeRole }[] {
  return [
    ...Array.from({ length: spec.cm }, (_, i) => ({ name: `n${i + 1}`, role: 'cm' as const })),
    ...Array.from({ length: spec.data }, (_, i) => ({ name: `d${i + 1}`, role: 'data' as const })),
  ];
}

/** `undertow-node` arguments of `node`, with its data in `dataDir`. */
export function nodeArgs(spec: ClusterSpec, nodes: readonly NodeInfo[], node: NodeInfo, dataDir: string): string[] {
  const cms = nodes.filter((n) => n.role === 'cm');
  const bugs = (side: Set<string>) => spec.bugs.filter((b) => side.has(b)).flatMap((b) => ['--bug', b]);
  if (node.role === 'cm') {
    return ['cm', '--id', node.name, '--listen', node.address, '--peers', cms.map((n) => `${n.name}=${n.address}`).join(','), '--data', dataDir, ...bugs(CM_SIDE), ...(spec.cmArgs ?? [])];
  }
  const servers = nodes.filter((n) => n.role === 'data').map((n) => n.name);
  return [
    'data', '--id', node.name, '--listen', node.address, '--cm', cms.map((n) => n.address).join(','), '--data', dataDir,
    '--servers', servers.join(','), '--groups', String(spec.groups), '--replication', String(spec.replication),
    ...bugs(DATA_SIDE), ...(spec.dataArgs ?? []),
  ];
}
