// Packet faults under Docker: tc in a container's network namespace (from the
// host, with nsenter: the image has no tc). The targeted container's
// traffic is slowed (a rate limit; a delay where the kernel has netem) and
// another's is not; clearing removes every qdisc, class and filter; a
// restarted container gets the fault in force again; teardown leaves
// nothing. Needs a Docker engine (started here if none runs and we are
// root), root and tc.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { connectEngine } from '../../docker/engine.js';
import { imageFor } from '../../docker/image.js';
import { dockerProvider, type DockerCluster } from '../../docker/provider.js';
import { REFERENCE_IMAGE, referenceDeployment } from '../../adapters/reference/index.js';
import type { ClusterSpec } from '../../harness/core/provider.js';
import { packetUsable } from '../../nemesis/packet.js';
import { expectCompleteRun, undertowTest } from '../harness/cli-run.js';
import { testEngine } from './engine.js';

const engine = await testEngine();
const tcOk = await packetUsable(['rate']);
const netem = await packetUsable(['delay']);
const skip = engine.missing !== null || !tcOk.ok;
const why = engine.missing ?? (tcOk.ok ? '' : tcOk.why);

afterAll(async () => {
  await engine.stop();
});

describe.skipIf(skip)(`packet faults under Docker${skip ? ` (skipped: ${why})` : ''}`, () => {
  let docker: Docker;
  let cluster: DockerCluster;
  let spec: ClusterSpec;
  let gateway = '';
  let server: Server;
  let port = 0;
  /** ms from the first byte to the end of each upload, by the uploader's address. */
  const uploads: { from: string; ms: number; bytes: number }[] = [];

  beforeAll(async () => {
    docker = await connectEngine();
    const image = (await imageFor(docker, { project: REFERENCE_IMAGE.project! })).tag;
    spec = {
      deployment: referenceDeployment({ cm: 3, data: 0 }),
      runDir: fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-docker-packet-')),
      runId: `tpk${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`,
    };
    cluster = await dockerProvider({ image, readyTimeoutMs: 45_000 }).up(spec);
    const net = await docker.getNetwork(`undertow-${spec.runId}`).inspect();
    gateway = net.IPAM?.Config?.[0]?.Gateway ?? '';
    server = createServer((s) => {
      let t0 = 0;
      let bytes = 0;
      s.on('data', (d: Buffer) => {
        if (t0 === 0) t0 = performance.now();
        bytes += d.length;
      });
      s.on('end', () => {
        uploads.push({ from: s.remoteAddress?.replace(/^::ffff:/, '') ?? '', ms: performance.now() - t0, bytes });
        s.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', () => r()));
    port = (server.address() as AddressInfo).port;
  }, 90_000);

  afterAll(async () => {
    server?.close();
    await cluster?.teardown();
    if (spec !== undefined) fs.rmSync(spec.runDir, { recursive: true, force: true });
  });

  const pid = async (node: string) => (await docker.getContainer(cluster.containerId(node)).inspect()).State.Pid;
  const tcShow = async (node: string, what: 'qdisc' | 'class' | 'filter') =>
    execFileSync('nsenter', ['-t', String(await pid(node)), '-n', 'tc', what, 'show', 'dev', 'eth0'], { encoding: 'utf8' }).trim();

  /** A node uploads `bytes` to the host (the network's gateway); ms the host saw it take. */
  async function upload(node: string, bytes: number): Promise<number> {
    const before = uploads.length;
    const script = `const s=require('net').connect(${port},'${gateway}',()=>{s.end(Buffer.alloc(${bytes}))});s.on('data',()=>{});s.on('close',()=>process.exit(0))`;
    const r = await cluster.exec(node, ['node', '-e', script]);
    expect(r.code, r.stderr).toBe(0);
    const u = uploads.slice(before).find((x) => x.from === cluster.nodes.find((n) => n.name === node)!.host);
    expect(u?.bytes).toBe(bytes);
    return u!.ms;
  }

  /** Median round trip (ms) from a node to the host, measured inside the node. */
  async function rtt(node: string): Promise<number> {
    // A TCP connect to the host's server is one round trip (SYN out, SYN-ACK back).
    const r = await cluster.exec(node, [
      'node',
      '-e',
      `const net=require('net');(async()=>{const t=[];for(let i=0;i<9;i++){const t0=performance.now();await new Promise(r=>{const s=net.connect(${port},'${gateway}',()=>{t.push(performance.now()-t0);s.destroy();r()})})}t.sort((a,b)=>a-b);console.log(t[4])})()`,
    ]);
    return Number(r.stdout.trim());
  }

  it("a rate limit on one container slows its uploads, not another's; cleared, nothing of tc is left in its netns", async () => {
    const [a, b] = ['n1', 'n2'];
    const bytes = 256 * 1024;
    const freeA = await upload(a, bytes);
    // 1 Mbit/s = 128 KiB/s: 256 KiB take about 2 s.
    await cluster.packet([a], { rateKbit: 1024 });
    expect(await tcShow(a, 'qdisc')).toMatch(/^qdisc htb 7557: root/);
    expect(await tcShow(b, 'qdisc')).not.toMatch(/7557/);
    const slowA = await upload(a, bytes);
    const fastB = await upload(b, bytes);
    await cluster.clearPacket();
    const againA = await upload(a, bytes);
    console.log(
      `256 KiB upload: ${a} unlimited ${freeA.toFixed(0)} ms; at 1 Mbit/s ${slowA.toFixed(0)} ms; ${b} meanwhile ${fastB.toFixed(0)} ms; ${a} cleared ${againA.toFixed(0)} ms`,
    );
    // 2 s in theory, less the first 64 KiB of burst; unlimited, some ms.
    const figures = JSON.stringify({ freeA, slowA, fastB, againA });
    expect(slowA, figures).toBeGreaterThan(1000);
    expect(fastB, figures).toBeLessThan(600);
    expect(againA, figures).toBeLessThan(600);
    for (const n of [a, b]) {
      expect(await tcShow(n, 'qdisc')).not.toMatch(/7557|htb|netem/);
      expect(await tcShow(n, 'class')).toBe('');
      expect(await tcShow(n, 'filter')).toBe('');
    }
  }, 60_000);

  it.skipIf(!netem.ok)(
    "100 ms of delay on one container shows in its round trips, not in another's",
    async () => {
      const freeA = await rtt('n1');
      await cluster.packet(['n1'], { delayMs: 100 });
      const slowA = await rtt('n1');
      const fastB = await rtt('n2');
      await cluster.clearPacket();
      console.log(`median TCP connect: n1 ${freeA.toFixed(2)} ms; n1 with 100 ms delay ${slowA.toFixed(2)} ms; n2 meanwhile ${fastB.toFixed(2)} ms`);
      expect(slowA).toBeGreaterThanOrEqual(99);
      expect(fastB).toBeLessThan(20);
      expect(await tcShow('n1', 'qdisc')).not.toMatch(/7557|netem/);
    },
    60_000,
  );

  it('a container restarted while a fault is in force gets it again (a fresh netns); another fault replaces it', async () => {
    await cluster.packet(['n3'], { rateKbit: 2048 });
    await cluster.kill('n3');
    await cluster.start('n3');
    expect(await tcShow('n3', 'class')).toMatch(/rate 2048Kbit/);
    await cluster.packet(['n2'], { rateKbit: 512 });
    expect(await tcShow('n3', 'qdisc')).not.toMatch(/7557/);
    expect(await tcShow('n2', 'class')).toMatch(/rate 512Kbit/);
    await cluster.clearPacket();
    expect(await tcShow('n2', 'qdisc')).not.toMatch(/7557/);
  }, 60_000);
});

describe.skipIf(skip)(`undertow test --provider docker --nemesis packet${skip ? ` (skipped: ${why})` : ''}`, () => {
  it('is valid on the correct build, with packet faults recorded (nodes, settings) and healed, and no container or network left', async () => {
    const kinds = netem.ok ? [] : ['--packet', 'rate'];
    const r = await undertowTest([
      '--provider',
      'docker',
      '--nemesis',
      'packet',
      ...kinds,
      '--time-limit',
      '20',
      '--nemesis-interval',
      '2',
      '--quiet',
      '4',
      '--seed',
      '8',
    ]);
    const { results, nemesis } = expectCompleteRun(r, 'register');
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(r.code).toBe(0);
    const done = (nemesis as { type: string; f: string; value: { nodes?: string[]; netem?: object } | null }[]).filter((op) => op.type === 'info');
    const packets = done.filter((op) => op.f === 'packet');
    expect(packets.length).toBeGreaterThanOrEqual(2);
    for (const p of packets) {
      expect(p.value!.nodes!.length).toBeGreaterThan(0);
      expect(Object.keys(p.value!.netem!).length).toBeGreaterThan(0);
    }
    expect(done.at(-1)!.f).toBe('heal-all');
    const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=undertow.rundir=${r.run}`], { encoding: 'utf8' }).trim();
    expect(left).toBe('');
  }, 150_000);
});
