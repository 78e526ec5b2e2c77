// The command lines of a reference cluster's nodes, the same for every
// provider: which node gets which `undertow-node` arguments, given where each
// one listens. Seeded bugs go to the role that has them (a CM node refuses a
// data-plane bug name, and the other way round).

import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeInfo } from '../../harness/core/provider.js';
import { IMAGE_NODE, IMAGE_PROJECT, type LaunchContext } from '../../harness/core/system.js';
import { CM_BUGS } from '../../system-under-test/cm/state.js';
import { PACIFICA_BUGS } from '../../system-under-test/pacifica/types.js';
import { RAFT_BUGS } from '../../system-under-test/raft/node.js';

export const CM_SIDE = new Set<string>([...RAFT_BUGS, ...CM_BUGS]);
export const DATA_SIDE = new Set<string>(PACIFICA_BUGS);

/** What a reference cluster is, once its options are resolved. */
export interface ReferenceLayout {
  readonly cm: number;
  readonly data: number;
  readonly groups: number;
  readonly replication: number;
  readonly bugs: readonly string[];
  /** Extra `undertow-node data` flags (lease and grace timing). */
  readonly dataArgs: readonly string[];
  readonly cmArgs: readonly string[];
}

/** n1..nC, then d1..dD. */
export function nodeNames(spec: Pick<ReferenceLayout, 'cm' | 'data'>): { name: string; role: 'cm' | 'data' }[] {
  return [
    ...Array.from({ length: spec.cm }, (_, i) => ({ name: `n${i + 1}`, role: 'cm' as const })),
    ...Array.from({ length: spec.data }, (_, i) => ({ name: `d${i + 1}`, role: 'data' as const })),
  ];
}

/** `undertow-node` arguments of `node`, with its data in `dataDir`. */
export function nodeArgs(spec: ReferenceLayout, nodes: readonly NodeInfo[], node: NodeInfo, dataDir: string): string[] {
  const cms = nodes.filter((n) => n.role === 'cm');
  const bugs = (side: Set<string>) => spec.bugs.filter((b) => side.has(b)).flatMap((b) => ['--bug', b]);
  if (node.role === 'cm') {
    return [
      'cm',
      '--id',
      node.name,
      '--listen',
      node.address,
      '--peers',
      cms.map((n) => `${n.name}=${n.address}`).join(','),
      '--data',
      dataDir,
      ...bugs(CM_SIDE),
      ...spec.cmArgs,
    ];
  }
  const servers = nodes.filter((n) => n.role === 'data').map((n) => n.name);
  return [
    'data',
    '--id',
    node.name,
    '--listen',
    node.address,
    '--cm',
    cms.map((n) => n.address).join(','),
    '--data',
    dataDir,
    '--servers',
    servers.join(','),
    '--groups',
    String(spec.groups),
    '--replication',
    String(spec.replication),
    ...bugs(DATA_SIDE),
    ...spec.dataArgs,
  ];
}

const PROGRAM = ['system-under-test', 'bin', 'undertow-node.js'];

/** `node undertow-node.js` on this machine: next to us when built, else the project's dist/. */
export function nodeProgram(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const built = resolve(here, '..', '..', ...PROGRAM);
  const program = existsSync(built) ? built : resolve(here, '..', '..', 'dist', ...PROGRAM);
  if (!existsSync(program)) throw new Error(`undertow-node is not built (${program} is missing): run npm run build`);
  return [process.execPath, program];
}

/** The whole command line of a node on a provider; a CM node that joins a running CM gets --join. */
export function launchArgv(layout: ReferenceLayout, ctx: LaunchContext): string[] {
  const program = ctx.provider === 'docker' ? [IMAGE_NODE, `${IMAGE_PROJECT}/dist/${PROGRAM.join('/')}`] : nodeProgram();
  const join = ctx.join && ctx.node.role === 'cm' ? ['--join'] : [];
  return [...program, ...nodeArgs(layout, ctx.nodes, ctx.node, ctx.dataDir), ...join];
}
