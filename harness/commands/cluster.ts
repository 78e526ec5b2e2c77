// `undertow cluster up|status|down`: a Docker cluster of any system (the
// reference system by default) to poke at by hand (undertow-node admin,
// etcdctl, a client, iptables). `up` starts a
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
import { DEFAULT_SYSTEM, SYSTEMS } from '../../adapters/index.js';
import type { NodeInfo } from '../core/provider.js';
import { deploySystem, parseOpts } from '../run/deploy.js';

interface ClusterArgs {
  action: string;
  name?: string;
  system: string;
  opt: string[];
  nodes?: number;
  cm?: number;
  data?: number;
  groups?: number;
  replication?: number;
  bug: string[];
  store: string;
  'fake-clock': boolean;
}

const NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;

function checkName(name: string): string {
  if (!NAME.test(name))
    throw new InputError(`bad cluster name ${JSON.stringify(name)}`, {}, 'use 1 to 31 lower-case letters, digits and dashes, starting with a letter or digit');
  return name;
}

/** What `up` starts, as `undertow test` would deploy it (every mistake one line). */
function deployment(a: ClusterArgs) {
  const options = parseOpts(a.opt);
  const shorthands = { cm: 'cm-nodes', groups: 'groups', replication: 'replication' } as const;
  for (const [flag, key] of Object.entries(shorthands) as [keyof typeof shorthands, string][]) {
    const v = a[flag];
    if (v === undefined) continue;
    if (a.system !== 'reference') throw new InputError(`--${flag} is the reference system's; system ${a.system} does not take it`);
    if (!Number.isInteger(v) || v < 1) throw new InputError(`--${flag} must be an integer >= 1, got ${v}`);
    options[key] = String(v);
  }
  if (a.data !== undefined && a.nodes !== undefined) throw new InputError('--data and --nodes are the same setting: give one');
  const nodes = a.nodes ?? a.data ?? 3;
  if (!Number.isInteger(nodes) || nodes < (a.system === 'reference' ? 0 : 1)) throw new InputError(`--nodes must be a positive integer, got ${nodes}`);
  return deploySystem({ system: a.system, nodes, options, bugs: a.bug, workload: 'register', faults: a['fake-clock'] ? ['clock'] : [] });
}

async function up(a: ClusterArgs): Promise<void> {
  const name = checkName(a.name ?? 'dev');
  const { deployment: d, options } = deployment(a);
  const [{ connectEngine }, { imageOf }, { containerName, dockerProvider }] = await Promise.all([
    engine(),
    import('../../docker/image.js'),
    import('../../docker/provider.js'),
  ]);
  const docker = await connectEngine();
  if ((await ourContainers(docker)).some((c) => c.run === name)) {
    throw new InputError(`cluster ${name} exists already`, {}, `remove it with undertow cluster down --name ${name}, or pick another --name`);
  }
  const image = await imageOf(docker, d.image);
  if (image.source !== 'cached') process.stderr.write(`undertow: built ${image.tag} (${image.source}, ${(image.ms / 1000).toFixed(1)} s)\n`);
  const runDir = path.resolve(a.store, 'clusters', name);
  fs.mkdirSync(runDir, { recursive: true });
  const cluster = await dockerProvider({ image: image.tag, detached: true }).up({ deployment: d, runDir, runId: name, fakeClock: a['fake-clock'] });
  // What `status` needs to ask this cluster how it is.
  fs.writeFileSync(path.join(runDir, CLUSTER_FILE), `${JSON.stringify({ system: a.system, options, bugs: a.bug, nodes: cluster.nodes }, null, 2)}\n`);
  const lines = cluster.nodes.map((n) => `  ${n.name.padEnd(4)} ${n.role.padEnd(6)} ${n.address.padEnd(20)} ${containerName(name, n.name)}`);
  const hint =
    a.system === 'reference'
      ? `try:  npx undertow-node admin --cm ${cluster.nodes
          .filter((n) => n.role === 'cm')
          .map((n) => n.address)
          .join(',')} status`
      : `clients: ${d.clientNodes(cluster.nodes).join(',')}`;
  process.stdout.write(
    [`cluster ${name} (${a.system}) is up (run folder ${runDir}):`, ...lines, hint, `stop: npx undertow cluster down --name ${name}`, ''].join('\n'),
  );
}

const CLUSTER_FILE = 'cluster.json';

interface OurContainer {
  run: string;
  node: string;
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
      const ip =
        Object.values(c.NetworkSettings?.Networks ?? {})[0]?.IPAMConfig?.IPv4Address ?? Object.values(c.NetworkSettings?.Networks ?? {})[0]?.IPAddress ?? '';
      const node = c.Labels[LABEL.node] ?? '?';
      return { run: c.Labels[LABEL.run], node, state: c.State, ip, owner: c.Labels[LABEL.owner] ?? '', runDir: c.Labels[LABEL.runDir] ?? '', id: c.Id };
    })
    .sort((x, y) => x.run.localeCompare(y.run) || x.node.localeCompare(y.node, 'en', { numeric: true }));
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
    // A cluster of `undertow cluster up` says what it is; a test run's containers are only listed.
    const file = path.join(mine[0].runDir, CLUSTER_FILE);
    if (mine[0].runDir === '' || !fs.existsSync(file)) continue;
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { system: string; options: Record<string, string>; bugs: string[]; nodes: NodeInfo[] };
    const running = new Set(mine.filter((c) => c.state === 'running').map((c) => c.node));
    const nodes = saved.nodes.filter((n) => running.has(n.name));
    if (nodes.length === 0 || !Object.hasOwn(SYSTEMS, saved.system)) continue;
    const { deployment: d } = deploySystem({
      system: saved.system,
      nodes: saved.nodes.length,
      options: saved.options,
      bugs: saved.bugs,
      workload: 'register',
      faults: [],
    });
    const view = d.view(nodes);
    try {
      const leader = await view.leader().catch(() => null);
      const groups = leader === null ? null : await view.groups().catch(() => null);
      const described =
        groups === null ? 'groups unknown' : `${groups.length} groups: ${groups.map((g) => `${g.group} ${g.primary}+[${g.secondaries.join(',')}]`).join(' ')}`;
      process.stdout.write(`  ${saved.system}: leader ${leader ?? 'none'}; ${described}\n`);
    } finally {
      view.close();
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
    describe: 'Start, inspect or remove a Docker cluster of a system by hand (up, status, down)',
    builder: (y: Argv) =>
      y
        .positional('action', {
          type: 'string',
          choices: ['up', 'status', 'down'],
          demandOption: true,
          describe: 'up: start and leave running; status: list ours; down: remove ours',
        })
        .option('name', { type: 'string', describe: 'the cluster (default for up: dev; status and down: every cluster of ours)' })
        .option('system', { type: 'string', default: DEFAULT_SYSTEM, describe: `the system: ${Object.keys(SYSTEMS).join(', ')}` })
        .option('opt', { type: 'string', array: true, default: [] as string[], describe: 'a system option KEY=VALUE (repeatable; see undertow test --help)' })
        .option('nodes', { type: 'number', describe: "the system's nodes (default 3)" })
        .option('cm', { type: 'number', describe: 'reference system: CM nodes (default 3)' })
        .option('data', { type: 'number', describe: 'reference system: data servers (the same as --nodes; 0 for a CM alone)' })
        .option('groups', { type: 'number', describe: 'reference system: replication groups (default 3)' })
        .option('replication', { type: 'number', describe: 'reference system: replicas per group (default 3)' })
        .option('bug', { type: 'string', array: true, default: [] as string[], describe: 'seeded bugs (see undertow test --help)' })
        .option('fake-clock', { type: 'boolean', default: false, describe: 'start the nodes under libfaketime (offset files in RUN/nodes/NODE/clock)' })
        .option('store', { type: 'string', default: DEFAULT_STORE, describe: 'the cluster folder is STORE/clusters/NAME' })
        .example('$0 cluster up --name demo --data 5 --groups 8', 'a reference cluster to poke at')
        .example('$0 cluster up --name e --system etcd', 'an etcd cluster')
        .example('$0 cluster down', 'remove every container and network of ours') as unknown as Argv<ClusterArgs>,
    handler: async (a) => {
      if (a.name !== undefined) checkName(a.name);
      if (a.action === 'up') await up(a);
      else if (a.action === 'status') await status(a);
      else await down(a);
    },
  };
}
