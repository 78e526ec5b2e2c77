// The local provider on real `undertow-node cm` processes: start, kill and
// restart, pause and resume, a partition with iptables on loopback, and
// cleanup (teardown, and the leftovers of a harness that was killed).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceDeployment } from '../../adapters/reference/index.js';
import { nodeProgram } from '../../adapters/reference/launch.js';
import { ClusterView } from '../../adapters/reference/view.js';
import type { Cluster } from '../../harness/core/provider.js';
import { localProvider } from '../../harness/providers/local.js';
import { until } from '../../system-under-test/runtime/local-cluster.js';

const root = mkdtempSync(join(tmpdir(), 'undertow-local-'));
const clusters: Cluster[] = [];
afterAll(async () => {
  for (const c of clusters) await c.teardown();
});

/** Our processes still running for a run folder. */
function processesOf(runDir: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('undertow-node') && cmd.includes(runDir)) pids.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return pids;
}

const stateOf = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0];

async function upCm(name: string) {
  const runDir = join(root, name);
  mkdirSync(runDir, { recursive: true });
  const provider = localProvider();
  const cluster = await provider.up({
    deployment: referenceDeployment({ cm: 3, data: 0, groups: 1, replication: 1 }),
    runDir,
    runId: `t${name}${process.pid}`,
  });
  clusters.push(cluster);
  return { cluster, runDir, view: new ClusterView(cluster.nodes) };
}

describe('the local provider', () => {
  it('starts a CM on its own loopback addresses, kills and restarts, pauses and resumes, and tears down to nothing', async () => {
    const { cluster, runDir, view } = await upCm('basic');
    expect(cluster.nodes.map((n) => n.name)).toEqual(['n1', 'n2', 'n3']);
    const hosts = cluster.nodes.map((n) => n.address.split(':')[0]);
    expect(new Set(hosts).size).toBe(3);
    for (const h of hosts) expect(h).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(processesOf(runDir)).toHaveLength(3);

    const leader = await until('a leader', () => view.cmLeader().then((l) => l ?? undefined), 10_000);
    await cluster.kill(leader);
    expect(cluster.isRunning(leader)).toBe(false);
    const next = await until('a new leader', () => view.cmLeader().then((l) => (l && l !== leader ? l : undefined)), 10_000);
    expect(next).not.toBe(leader);
    await cluster.start(leader);
    expect(cluster.isRunning(leader)).toBe(true);

    const pids = () => new Map(processesOf(runDir).map((p) => [readFileSync(`/proc/${p}/cmdline`, 'utf8').match(/--id\0(n\d)/)![1], p]));
    await cluster.pause('n2');
    expect(stateOf(pids().get('n2')!)).toBe('T');
    await cluster.resume('n2');
    expect(stateOf(pids().get('n2')!)).not.toBe('T');

    expect(readFileSync(join(runDir, 'nodes', 'n1', 'n1.log'), 'utf8').length).toBeGreaterThan(0);
    await cluster.pause('n3'); // teardown must not leave a stopped process behind either
    view.close();
    await cluster.teardown();
    expect(processesOf(runDir)).toEqual([]);
    await cluster.teardown(); // idempotent
  });

  it('cuts a CM leader off with iptables on loopback, and heals', async () => {
    const { cluster, view } = await upCm('partition');
    const leader = await until('a leader', () => view.cmLeader().then((l) => l ?? undefined), 10_000);
    const others = cluster.nodes.map((n) => n.name).filter((n) => n !== leader);
    await cluster.partition({ [leader]: others, ...Object.fromEntries(others.map((o) => [o, [leader]])) });
    const chains = spawnSync('iptables', ['-w', '-S'], { encoding: 'utf8' }).stdout;
    expect(chains).toMatch(/UNDERTOW-/);
    // The majority elects another leader; the old one cannot reach it.
    await until('a leader among the majority', () => view.cmLeader().then((l) => (l && l !== leader ? l : undefined)), 15_000);
    await cluster.heal();
    expect(spawnSync('iptables', ['-w', '-S'], { encoding: 'utf8' }).stdout).not.toContain(`UNDERTOW-t`);
    view.close();
    await cluster.teardown();
  });

  it('kills the nodes of a harness that died without cleaning up, at the next start', async () => {
    const runDir = join(root, 'orphan');
    mkdirSync(join(runDir, 'nodes', 'n1', 'data'), { recursive: true });
    // A node started by a "harness" that is gone now (a pid that has exited).
    const [node, script] = nodeProgram();
    const orphan = spawn(
      node,
      [script, 'cm', '--id', 'n1', '--listen', '127.0.0.1:0', '--peers', 'n1=127.0.0.1:0', '--data', join(runDir, 'nodes', 'n1', 'data')],
      { stdio: 'ignore', detached: true },
    );
    const dead = spawnSync('true').pid!;
    const registry = join(tmpdir(), 'undertow-local');
    mkdirSync(registry, { recursive: true });
    writeFileSync(join(registry, 'orphantest.json'), JSON.stringify({ harnessPid: dead, runDir, chain: 'UNDERTOW-orphantest', pids: { n1: orphan.pid } }));
    await until('the orphan runs', () => (processesOf(runDir).length === 1 ? true : undefined), 5000);
    await localProvider().cleanupLeftovers();
    await until('the orphan is gone', () => (processesOf(runDir).length === 0 ? true : undefined), 5000);
    expect(existsSync(join(registry, 'orphantest.json'))).toBe(false);
  });
});
