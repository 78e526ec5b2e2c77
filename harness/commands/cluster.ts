// `undertow cluster up|status|down`: a Docker cluster of the reference system
// to poke at by hand (undertow-node admin, a client, iptables). `up` starts a
// named cluster and leaves it running (it outlives the command: its owner
// label says "detached", so no later run takes it for a leftover); `status`
// lists every container of ours and asks each cluster's CM; `down` removes
// everything of ours (or one cluster with --name), after saving the logs of
// detached clusters to their run folders.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type Docker from 'dockerode';
import type { Argv, CommandModule } from 'yargs';
// The Docker modules (and dockerode) load only when this command runs, so
// that the other commands start without them.
const engine = () => import('../../docker/engine.js');
import { InputError } from '../../history/input-error.js';
import { DEFAULT_STORE } from '../../results/store.js';
import { ClusterView } from '../cluster-view.js';
import { checkBugs, KNOWN_BUGS } from '../node-args.js';
import type { NodeInfo, NodeRole } from '../provider.js';

interface ClusterArgs {
  action: string;
  name?: string;
  cm: number;
  data: number;
  groups: number;
  replication: number;
  bug: string[];
  store: string;
  'fake-clock': boolean;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;

function checkName(name: string): string {
  if (!NAME.test(name)) throw new InputError(`bad cluster name ${JSON.stringify(name)}`, {}, 'use 1 to 31 lower-case letters, digits and dashes, starting with a letter or digit');
  return name;
}

function checkSpec(a: ClusterArgs): void {
  if (a.cm !== 3 && a.cm !== 5) throw new InputError(`--cm must be 3 or 5, got ${a.cm}`);
  for (const [flag, v, min] of [['data', a.data, 0], ['groups', a.groups, 1], ['replication', a.replication, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new InputError(`--${flag} must be an integer >= ${min}, got ${v}`);
  }
  if (a.data > 0 && a.replication > a.data) throw new InputError(`--replication ${a.replication} needs at least that many data servers (--data ${a.data})`);
  checkBugs(a.bug);
}

async function up(a: ClusterArgs): Promise<void> {
  const name = checkName(a.name ?? 'dev');
  checkSpec(a);
  const [{ connectEngine }, { imageFor }, { containerName, dockerProvider }] = await Promise.all([engine(), import('../../docker/image.js'), import('../../docker/provider.js')]);
  const docker = await connectEngine();
  if ((await ourContainers(docker)).some((c) => c.run === name)) {
    throw new InputError(`cluster ${name} exists already`, {}, `remove it with undertow cluster down --name ${name}, or pick another --name`);
  }
  const image = await imageFor(docker);
  if (image.source !== 'cached') process.stderr.write(`undertow: built ${image.tag} (${image.source}, ${(image.ms / 1000).toFixed(1)} s)\n`);
  const runDir = path.resolve(a.store, 'clusters', name);
  fs.mkdirSync(runDir, { recursive: true });
  const cluster = await dockerProvider({ image: image.tag, detached: true }).up({
    cm: a.cm, data: a.data, groups: a.groups, replication: a.replication, bugs: a.bug, runDir, runId: name, fakeClock: a['fake-clock'],
  });
  const lines = cluster.nodes.map((n) => `  ${n.name.padEnd(4)} ${n.role.padEnd(4)} ${n.address.padEnd(20)} ${containerName(name, n.name)}`);
  process.stdout.write(
    [
      `cluster ${name} is up (run folder ${runDir}):`,
      ...lines,
      `try:  npx undertow-node admin --cm ${cluster.cmAddresses.join(',')} status`,
      `stop: npx undertow cluster down --name ${name}`,
      '',
    ].join('\n'),
  );
}

interface OurContainer {
  run: string;
  node: string;
  role: NodeRole;
  state: string;
  ip: string;
  owner: string;
  runDir: string;
  id: string;
}

async function ourContainers(docker: Docker): Promise<OurContainer[]> {
  const { LABEL } = await engine();
  const list = await docker.listContainers({ all: true, filters: { label: [LABEL.run] } });
  return list
    .map((c) => {
      const ip = Object.values(c.NetworkSettings?.Networks ?? {})[0]?.IPAMConfig?.IPv4Address ?? Object.values(c.NetworkSettings?.Networks ?? {})[0]?.IPAddress ?? '';
      const node = c.Labels[LABEL.node] ?? '?';
      return { run: c.Labels[LABEL.run], node, role: (node.startsWith('n') ? 'cm' : 'data') as NodeRole, state: c.State, ip, owner: c.Labels[LABEL.owner] ?? '', runDir: c.Labels[LABEL.runDir] ?? '', id: c.Id };
    })
    .sort((x, y) => x.run.localeCompare(y.run) || x.role.localeCompare(y.role) || x.node.localeCompare(y.node, 'en', { numeric: true }));
}

async function status(a: ClusterArgs): Promise<void> {
  const { connectEngine, DETACHED } = await engine();
  const docker = await connectEngine();
  const all = (await ourContainers(docker)).filter((c) => a.name === undefined || c.run === a.name);
  if (all.length === 0) {
    process.stdout.write(a.name === undefined ? 'no undertow containers\n' : `no cluster ${a.name}\n`);
    return;
  }
  for (const run of [...new Set(all.map((c) => c.run))]) {
    const mine = all.filter((c) => c.run === run);
    process.stdout.write(`${run} (${mine[0].owner === DETACHED ? 'cluster up' : `test run, owner ${mine[0].owner}`}, ${mine[0].runDir}):\n`);
    for (const c of mine) process.stdout.write(`  ${c.node.padEnd(4)} ${c.state.padEnd(8)} ${c.ip}\n`);
    const nodes: NodeInfo[] = mine.filter((c) => c.state === 'running' && c.ip !== '').map((c) => ({ name: c.node, role: c.role, address: `${c.ip}:7000` }));
    if (nodes.some((n) => n.role === 'cm')) {
      const view = new ClusterView(nodes);
      try {
        const leader = await view.cmLeader();
        const groups = leader === null ? null : await view.groups();
        const described = groups === null ? 'unknown' : `${Object.keys(groups).length}`;
        process.stdout.write(`  cm leader: ${leader ?? 'none'}; groups: ${described}\n`);
      } finally {
        view.close();
      }
    }
  }
}

/** `docker logs` of a detached cluster's containers into RUN/nodes/NODE/NODE.log (nobody streamed them). */
async function saveLogs(docker: Docker, containers: readonly OurContainer[]): Promise<void> {
  const [{ nodeDir }, { DETACHED }] = await Promise.all([import('../../docker/provider.js'), engine()]);
  for (const c of containers) {
    if (c.owner !== DETACHED || c.runDir === '' || !fs.existsSync(c.runDir)) continue;
    const buf = (await docker.getContainer(c.id).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    const dir = nodeDir(c.runDir, c.node);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${c.node}.log`), demux(buf));
  }
}

/** The engine's log framing (8-byte headers: stream, 0, 0, 0, length) removed. */
function demux(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const len = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  return Buffer.concat(parts);
}

async function down(a: ClusterArgs): Promise<void> {
  const { connectEngine, removeRuns } = await engine();
  const docker = await connectEngine();
  const containers = (await ourContainers(docker)).filter((c) => a.name === undefined || c.run === a.name);
  await saveLogs(docker, containers);
  const removed = await removeRuns(docker, a.name === undefined ? 'all' : [a.name]);
  process.stdout.write(`removed ${removed.containers} container(s) and ${removed.networks} network(s)\n`);
}

export function clusterCommand(): CommandModule<object, ClusterArgs> {
  return {
    command: 'cluster <action>',
    describe: 'Start, inspect or remove a Docker cluster of the reference system by hand (up, status, down)',
    builder: (y: Argv) =>
      y
        .positional('action', { type: 'string', choices: ['up', 'status', 'down'], demandOption: true, describe: 'up: start and leave running; status: list ours; down: remove ours' })
        .option('name', { type: 'string', describe: 'the cluster (default for up: dev; status and down: every cluster of ours)' })
        .option('cm', { type: 'number', default: 3, describe: 'CM nodes (3 or 5)' })
        .option('data', { type: 'number', default: 3, describe: 'data servers' })
        .option('groups', { type: 'number', default: 4, describe: 'replication groups' })
        .option('replication', { type: 'number', default: 3, describe: 'replicas per group' })
        .option('bug', { type: 'string', array: true, default: [] as string[], describe: `seeded bugs: ${KNOWN_BUGS.join(', ')}` })
        .option('fake-clock', { type: 'boolean', default: false, describe: 'start the nodes under libfaketime (offset files in RUN/nodes/NODE/clock)' })
        .option('store', { type: 'string', default: DEFAULT_STORE, describe: 'the cluster folder is STORE/clusters/NAME' })
        .example('$0 cluster up --name demo --data 5 --groups 8', 'a cluster to poke at')
        .example('$0 cluster down', 'remove every container and network of ours') as unknown as Argv<ClusterArgs>,
    handler: async (a) => {
      if (a.name !== undefined) checkName(a.name);
      if (a.action === 'up') await up(a);
      else if (a.action === 'status') await status(a);
      else await down(a);
    },
  };
}
