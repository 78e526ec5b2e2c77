// The Docker provider end to end: real images, containers, networks and
// iptables rules in the containers' network namespaces. Needs a Docker
// engine (started here if none runs and we are root); skips only when none
// can be had.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { connectEngine, LABEL, ownerToken, removeRuns } from '../../docker/engine.js';
import { imageExists, imageFor, nodeContext } from '../../docker/image.js';
import { projectRoot } from '../../harness/core/project-root.js';
import { dockerProvider, type DockerCluster } from '../../docker/provider.js';
import { REFERENCE_IMAGE, referenceDeployment } from '../../adapters/reference/index.js';
import { ClusterView, fullyReplicated } from '../../adapters/reference/view.js';
import { chainName } from '../../nemesis/iptables.js';
import type { ClusterSpec, NodeInfo } from '../../harness/core/provider.js';
import type { StatusResponse } from '../../system-under-test/runtime/client.js';
import { CmClient } from '../../system-under-test/runtime/client.js';
import { hasDataRole, testEngine } from './engine.js';

const ROOT = projectRoot();
const PROGRAM = path.join(ROOT, 'dist', 'system-under-test', 'bin', 'undertow-node.js');
const CLI = path.join(ROOT, 'dist', 'harness', 'cli.js');

const engine = await testEngine();
const skip = engine.missing !== null;
const why = engine.missing ?? '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));
const runId = (what: string) => `t${what}${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;

async function until<T>(what: string, f: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

// The race with a timer is ours: CmClient waits for a TCP connect without a
// deadline, and a SYN to a killed container's address gets no answer at all
// (no RST) until the kernel gives up, minutes later.
async function status(n: NodeInfo, ms = 500): Promise<StatusResponse | undefined> {
  const c = new CmClient([n.address], { timeoutMs: ms, attemptMs: ms });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const r = await Promise.race([c.request({ op: 'status' }), new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms + 200)))]);
    return r?.ok ? (r as unknown as StatusResponse) : undefined;
  } finally {
    clearTimeout(timer);
    c.close();
  }
}

async function labeled(docker: Docker, run: string): Promise<{ containers: number; networks: number }> {
  const filters = { label: [`${LABEL.run}=${run}`] };
  return { containers: (await docker.listContainers({ all: true, filters })).length, networks: (await docker.listNetworks({ filters })).length };
}

afterAll(async () => {
  await engine.stop();
});

describe.skipIf(skip)(`docker images${skip ? ` (skipped: ${why})` : ''}`, () => {
  it('builds the node image offline, runs undertow-node in it, and reuses the tag when nothing changed', async () => {
    const docker = await connectEngine();
    // A copy of the project whose built system differs by one file: a tag no run has built yet.
    const root = tmp('undertow-img-');
    let tag: string | undefined;
    try {
      const real = nodeContext(ROOT, REFERENCE_IMAGE.project!);
      for (const rel of [...real.files, ...real.modules, 'package-lock.json', 'package.json', REFERENCE_IMAGE.project!.dockerfile]) {
        fs.cpSync(path.join(ROOT, rel), path.join(root, rel), { recursive: true });
      }
      fs.writeFileSync(path.join(root, 'dist', 'system-under-test', 'marker.js'), `export const marker = ${JSON.stringify(root)};\n`);
      const first = await imageFor(docker, { root, dockerfile: false, project: REFERENCE_IMAGE.project! });
      tag = first.tag;
      expect(first.source).toBe('offline');
      expect(first.tag).not.toBe(real.tag);
      expect(await imageExists(docker, first.tag)).toBe(true);

      const second = await imageFor(docker, { root, dockerfile: false, project: REFERENCE_IMAGE.project! });
      expect(second).toMatchObject({ tag: first.tag, source: 'cached' });

      // The image runs the program: `admin` without --cm is a usage error (254) printed by undertow-node itself.
      const c = await docker.createContainer({
        Image: first.tag,
        Cmd: ['admin', 'status'],
        Labels: { [LABEL.run]: 'image-test', [LABEL.owner]: ownerToken() },
      });
      try {
        await c.start();
        const { StatusCode } = (await c.wait()) as { StatusCode: number };
        const logs = String(await c.logs({ stdout: true, stderr: true }));
        expect(StatusCode).toBe(254);
        expect(logs).toContain('missing --cm');
      } finally {
        await c.remove({ force: true });
      }
    } finally {
      if (tag !== undefined)
        await docker
          .getImage(tag)
          .remove({ force: true })
          .catch(() => undefined);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skip)(`docker provider${skip ? ` (skipped: ${why})` : ''}`, () => {
  let docker: Docker;
  let image: string;
  let cluster: DockerCluster;
  let spec: ClusterSpec;
  const withData = !skip && hasDataRole(PROGRAM);

  beforeAll(async () => {
    docker = await connectEngine();
    image = (await imageFor(docker, { project: REFERENCE_IMAGE.project! })).tag;
    spec = {
      deployment: referenceDeployment({ cm: 3, data: withData ? 3 : 0, groups: 3, replication: 3 }),
      runDir: tmp('undertow-docker-run-'),
      runId: runId('p'),
      fakeClock: true,
    };
    cluster = await dockerProvider({ image, readyTimeoutMs: 45_000 }).up(spec);
  }, 60_000);

  afterAll(async () => {
    await cluster?.teardown();
    if (spec !== undefined) fs.rmSync(spec.runDir, { recursive: true, force: true });
  });

  const cms = () => cluster.nodes.filter((n) => n.role === 'cm');
  const node = (name: string) => cluster.nodes.find((n) => n.name === name)!;

  it("comes up with a CM leader on the run's own network, every group served when data servers run", async () => {
    expect(cluster.nodes.map((n) => n.name)).toEqual(withData ? ['n1', 'n2', 'n3', 'd1', 'd2', 'd3'] : ['n1', 'n2', 'n3']);
    const view = new ClusterView(cluster.nodes);
    try {
      expect(await view.cmLeader()).toMatch(/^n[123]$/);
      if (withData) {
        const groups = await view.groups();
        expect(Object.keys(groups ?? {})).toHaveLength(3);
        for (const g of Object.values(groups ?? {})) expect(g.primary).toMatch(/^d[123]$/);
      }
    } finally {
      view.close();
    }
    const net = await docker.getNetwork(`undertow-${spec.runId}`).inspect();
    expect(net.Labels?.[LABEL.run]).toBe(spec.runId);
    const subnet = net.IPAM?.Config?.[0]?.Subnet ?? '';
    expect(subnet).toMatch(/^10\.77\.\d+\.0\/24$/);
    for (const n of cluster.nodes) expect(n.address.startsWith(subnet.replace(/0\/24$/, ''))).toBe(true);
    // Every node's output goes to RUN/nodes/NODE/NODE.log.
    const log = await until(
      'n1 to log its start',
      async () => {
        const text = fs.readFileSync(path.join(spec.runDir, 'nodes', 'n1', 'n1.log'), 'utf8');
        return text.includes('cm node started') ? text : undefined;
      },
      10_000,
    );
    expect(JSON.parse(log.split('\n')[0])).toMatchObject({ node: 'n1' });
  });

  it('kill -9 stops a node and start brings it back on its data', async () => {
    const n = cms()[0];
    const before = await until('a status from n1', () => status(n), 10_000);
    // The containers' CPU, from their cgroups on this host (a bench's cluster CPU); a restart does not take it back.
    const cpu = cluster.cpuSeconds();
    expect(cpu).toBeGreaterThan(0);
    await cluster.kill(n.name);
    expect(cluster.isRunning(n.name)).toBe(false);
    expect((await docker.getContainer(cluster.containerId(n.name)).inspect()).State.Running).toBe(false);
    expect(await status(n, 300)).toBeUndefined();
    await cluster.start(n.name);
    expect(cluster.isRunning(n.name)).toBe(true);
    const after = await until('n1 to answer again', () => status(n), 20_000);
    // Its Raft state survived: the term never goes back, the log is still there.
    expect(after.term).toBeGreaterThanOrEqual(before.term);
    expect(after.lastIndex).toBeGreaterThanOrEqual(before.commit);
    expect(cluster.cpuSeconds()).toBeGreaterThanOrEqual(cpu);
    // Both lives of the node are in its log (the lines reach the file a moment after the node wrote them).
    const starts = () =>
      fs
        .readFileSync(path.join(spec.runDir, 'nodes', n.name, `${n.name}.log`), 'utf8')
        .split('\n')
        .filter((l) => l.includes('cm node started')).length;
    await until('the second start in the log', async () => (starts() >= 2 ? true : undefined), 10_000);
    expect(starts()).toBe(2);
  });

  it('a node that exits by itself is no longer running, and start brings it back', async () => {
    const n = cms()[0];
    await until('n1 to answer', () => status(n), 10_000);
    // SIGTERM from inside the container: the node shuts down cleanly and its container stops.
    await cluster.exec(n.name, ['node', '-e', 'process.kill(1, "SIGTERM")']);
    await until('isRunning to see that n1 exited', async () => (cluster.isRunning(n.name) ? undefined : true), 15_000);
    expect((await docker.getContainer(cluster.containerId(n.name)).inspect()).State.Running).toBe(false);
    await cluster.start(n.name);
    expect(await until('n1 to answer after its start', () => status(n), 20_000)).toMatchObject({ id: n.name });
    // The die event of the clean exit does not make a later start look dead.
    await sleep(1000);
    expect(cluster.isRunning(n.name)).toBe(true);
  });

  it('pause freezes a node, resume thaws it, and a paused node can be killed', async () => {
    const n = cms()[1];
    await until('n2 to answer', () => status(n), 10_000);
    await cluster.pause(n.name);
    expect(cluster.isRunning(n.name)).toBe(true);
    expect((await docker.getContainer(cluster.containerId(n.name)).inspect()).State.Paused).toBe(true);
    expect(await status(n, 500)).toBeUndefined();
    await cluster.resume(n.name);
    expect(await until('n2 to answer after resume', () => status(n), 10_000)).toMatchObject({ id: n.name });

    // Killed while paused: it dies frozen, and starts again like any killed node.
    await cluster.pause(n.name);
    await cluster.kill(n.name);
    const st = (await docker.getContainer(cluster.containerId(n.name)).inspect()).State;
    expect({ running: st.Running, paused: st.Paused, isRunning: cluster.isRunning(n.name) }).toEqual({ running: false, paused: false, isRunning: false });
    await cluster.start(n.name);
    expect(await until('n2 to answer after its start', () => status(n), 20_000)).toMatchObject({ id: n.name });
  });

  it('a partition cuts the leader off (the others elect a newer one) and heal reunites them', async () => {
    const view = new ClusterView(cluster.nodes);
    try {
      const leader = node(await until('a CM leader', async () => (await view.cmLeader()) ?? undefined, 20_000));
      const old = (await status(leader))!;
      const others = cms().filter((n) => n.name !== leader.name);
      await cluster.partition({ [leader.name]: others.map((n) => n.name), ...Object.fromEntries(others.map((n) => [n.name, [leader.name]])) });
      // The host still reaches every node (its traffic comes from the gateway); the majority moves on.
      const newer = await until(
        'a new leader among the majority',
        async () => {
          for (const o of others) {
            const st = await status(o);
            if (st?.role === 'leader' && st.term > old.term) return st;
          }
          return undefined;
        },
        20_000,
      );
      const cut = (await status(leader))!;
      expect(cut.term < newer.term || cut.role !== 'leader').toBe(true);

      // Restarted during the partition, the node gets a fresh network namespace, and the rules again.
      await cluster.kill(leader.name);
      await cluster.start(leader.name);
      const pid = (await docker.getContainer(cluster.containerId(leader.name)).inspect()).State.Pid;
      const rules = spawnSync('nsenter', ['-t', String(pid), '-n', 'iptables', '-S', chainName(spec.runId)], { encoding: 'utf8' }).stdout;
      for (const o of others) expect(rules).toContain(`-s ${o.address.replace(/:\d+$/, '')}/32 -j DROP`);

      await cluster.heal();
      // Reunited: the old leader learns the newer term and follows.
      const healed = await until(
        'the old leader to follow again',
        async () => {
          const st = await status(leader);
          return st !== undefined && st.term >= newer.term && st.role !== 'leader' && st.leader !== null ? st : undefined;
        },
        20_000,
      );
      expect(healed.leader).not.toBe(leader.name);
    } finally {
      view.close();
      await cluster.heal();
    }
  });

  it('setClockOffset moves Date.now inside the container, and 0 puts it back', async () => {
    const n = cms()[2];
    const now = async () => {
      const r = await cluster.exec(n.name, ['node', '-e', 'console.log(Date.now())']);
      expect(r.code).toBe(0);
      return Number(r.stdout.trim()) - Date.now();
    };
    await cluster.setClockOffset(n.name, 3_600_000);
    const ahead = await now();
    expect(Math.abs(ahead - 3_600_000)).toBeLessThan(10_000);
    await cluster.setClockOffset(n.name, -120_000);
    expect(Math.abs((await now()) + 120_000)).toBeLessThan(10_000);
    await cluster.setClockOffset(n.name, 0);
    expect(Math.abs(await now())).toBeLessThan(10_000);
  });

  it.skipIf(!withData)("killing a group's primary data server makes the CM promote another; started again, the group is whole again", async () => {
    const view = new ClusterView(cluster.nodes);
    try {
      const groups = await until('the groups', async () => (await view.groups()) ?? undefined, 10_000);
      const [name, g] = Object.entries(groups).sort()[0];
      await cluster.kill(g.primary);
      const promoted = await until(
        `a new primary for ${name}`,
        async () => {
          const now = (await view.groups())?.[name];
          return now !== undefined && now.primary !== g.primary && now.version > g.version ? now : undefined;
        },
        30_000,
      );
      expect(promoted.primary).toMatch(/^d[123]$/);
      await cluster.start(g.primary);
      await until('every group fully replicated again', async () => (fullyReplicated(await view.groups(), 3, 3) ? true : undefined), 45_000);
    } finally {
      view.close();
    }
  });

  it('teardown removes every container and the network of the run, and is idempotent', async () => {
    expect(await labeled(docker, spec.runId)).toEqual({ containers: cluster.nodes.length, networks: 1 });
    await cluster.teardown();
    await cluster.teardown();
    expect(await labeled(docker, spec.runId)).toEqual({ containers: 0, networks: 0 });
  });
});

describe.skipIf(skip)(`docker cleanup${skip ? ` (skipped: ${why})` : ''}`, () => {
  it('cleanupLeftovers removes what a dead run left and nothing of a live or detached one', async () => {
    const docker = await connectEngine();
    const image = (await imageFor(docker, { project: REFERENCE_IMAGE.project! })).tag;
    // A run whose harness died: a pid that was alive once and is not any more.
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadOwner = `${gone.stdout.trim()}:1`;
    const runs = { dead: runId('dead'), live: runId('live'), detached: runId('det') };
    const owners = { dead: deadOwner, live: ownerToken(), detached: 'detached' };
    try {
      for (const k of ['dead', 'live', 'detached'] as const) {
        const labels = { [LABEL.run]: runs[k], [LABEL.owner]: owners[k] };
        await docker.createNetwork({ Name: `undertow-${runs[k]}`, Labels: labels });
        await docker.createContainer({ name: `undertow-${runs[k]}-n1`, Image: image, Cmd: ['admin'], Labels: { ...labels, [LABEL.node]: 'n1' } });
      }
      await dockerProvider({ image }).cleanupLeftovers();
      expect(await labeled(docker, runs.dead)).toEqual({ containers: 0, networks: 0 });
      expect(await labeled(docker, runs.live)).toEqual({ containers: 1, networks: 1 });
      expect(await labeled(docker, runs.detached)).toEqual({ containers: 1, networks: 1 });
    } finally {
      await removeRuns(docker, Object.values(runs));
    }
  });
});

describe.skipIf(skip)(`docker cleanup when the harness dies${skip ? ` (skipped: ${why})` : ''}`, () => {
  /** A harness process (the built provider) that brings a 3-node CM up, says "ready" and waits. */
  async function harness(run: string, runDir: string, image: string): Promise<ReturnType<typeof spawn>> {
    const script = `
      const { dockerProvider } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'docker', 'provider.js'))});
      const { referenceDeployment } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'adapters', 'reference', 'index.js'))});
      await dockerProvider({ image: ${JSON.stringify(image)} }).up({ deployment: referenceDeployment({ cm: 3, data: 0, groups: 1, replication: 1 }), runDir: ${JSON.stringify(runDir)}, runId: ${JSON.stringify(run)} });
      console.log('ready');
      setInterval(() => undefined, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stderr!.on('data', (d: Buffer) => (out += String(d)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => String(d).includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`the harness exited (${code}) before the cluster was up: ${out}`)));
    });
    return child;
  }

  it('leftovers of a SIGKILLed harness are removed at the next start; a Ctrl-C tears down before exiting', async () => {
    const docker = await connectEngine();
    const image = (await imageFor(docker, { project: REFERENCE_IMAGE.project! })).tag;
    const runDir = tmp('undertow-docker-crash-');
    const runs = { killed: runId('k'), interrupted: runId('i') };
    const children: ReturnType<typeof spawn>[] = [];
    try {
      const killed = await harness(runs.killed, path.join(runDir, 'k'), image);
      children.push(killed);
      const interrupted = await harness(runs.interrupted, path.join(runDir, 'i'), image);
      children.push(interrupted);
      expect(await labeled(docker, runs.killed)).toEqual({ containers: 3, networks: 1 });

      const exited = new Promise<number | null>((r) => interrupted.on('exit', (code) => r(code)));
      interrupted.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(await labeled(docker, runs.interrupted)).toEqual({ containers: 0, networks: 0 });

      const gone = new Promise((r) => killed.on('exit', r));
      killed.kill('SIGKILL');
      await gone;
      expect(await labeled(docker, runs.killed)).toEqual({ containers: 3, networks: 1 });
      await dockerProvider({ image }).cleanupLeftovers();
      expect(await labeled(docker, runs.killed)).toEqual({ containers: 0, networks: 0 });
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await removeRuns(docker, Object.values(runs));
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skip)(`undertow cluster up|status|down${skip ? ` (skipped: ${why})` : ''}`, () => {
  function cli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const p = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += String(d)));
      p.stderr.on('data', (d: Buffer) => (stderr += String(d)));
      p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }

  it('starts a named cluster that outlives the command, reports it, and removes it', async () => {
    const store = tmp('undertow-cluster-');
    const name = runId('cli');
    const docker = await connectEngine();
    try {
      const data = hasDataRole(PROGRAM) ? 3 : 0;
      const up = await cli(['cluster', 'up', '--name', name, '--data', String(data), '--groups', '2', '--store', store]);
      expect(up.stderr).not.toContain('internal error');
      expect(up.code).toBe(0);
      expect(up.stdout).toContain(`cluster ${name} (reference) is up`);
      expect(up.stdout).toMatch(/n1\s+cm\s+10\.77\.\d+\.11:7000/);
      // The command has exited; the cluster still runs.
      if (data > 0) expect(up.stdout).toMatch(/d3\s+data\s+10\.77\.\d+\.16:7000/);
      expect(await labeled(docker, name)).toEqual({ containers: 3 + data, networks: 1 });

      const st = await cli(['cluster', 'status', '--name', name]);
      expect(st.code).toBe(0);
      expect(st.stdout).toContain(`${name} (cluster up`);
      expect(st.stdout).toMatch(/reference: leader n[123]; (\d+) groups/);
      if (data > 0) expect(st.stdout).toContain('; 2 groups: ');

      const down = await cli(['cluster', 'down', '--name', name]);
      expect(down.code).toBe(0);
      expect(down.stdout).toContain(`removed ${3 + data} container(s) and 1 network(s)`);
      expect(await labeled(docker, name)).toEqual({ containers: 0, networks: 0 });
      // The logs of the detached nodes were saved to the cluster's folder.
      expect(fs.readFileSync(path.join(store, 'clusters', name, 'nodes', 'n1', 'n1.log'), 'utf8')).toContain('cm node started');
    } finally {
      await removeRuns(docker, [name]);
      fs.rmSync(store, { recursive: true, force: true });
    }
  });

  it('says in one line how to start an engine when none answers, and exits 254', async () => {
    const r = await cli(['cluster', 'status'], { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(r.code).toBe(254);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('no Docker engine reachable');
    expect(lines[0]).toContain('dockerd');
  });

  it('rejects a bad cluster name in one line with exit 254', async () => {
    const r = await cli(['cluster', 'up', '--name', 'Bad Name!']);
    expect(r.code).toBe(254);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('bad cluster name');
  });
});
