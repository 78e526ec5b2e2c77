// The Docker provider: every node a container (of the system's offline image,
// running the command line its deployment gives) on a bridge network of its own (`undertow-RUNID`, a private /24
// picked free among the engine's networks), with a fixed address, its data
// and its libfaketime offset file bind-mounted from the run's folder (so a
// killed and restarted container keeps both), and its output streamed to
// RUN/nodes/NODE/NODE.log.
//
// Faults: kill = SIGKILL to the container (kept, so `start` brings it back on
// the same data and address); pause = the cgroup freezer (docker pause);
// clock = rewrite the bind-mounted offset file; power = SIGKILL, then the
// node's unsynced writes undone from the host with the journals of the power
// shim (nemesis/power.ts; the shim and its journals are in a bind-mounted
// folder too), before `power-on` starts it again; partition = iptables rules
// that the host installs inside each container's network namespace (nsenter
// by the container's pid), dropping packets from the nodes in its grudge;
// packet = tc (an HTB class and netem) on the container's eth0, installed
// the same way (nemesis/packet.ts), so the image needs no tc.
// The harness's own traffic comes from the bridge's gateway and is never
// dropped.
//
// Cleanup: every container and the network carry the labels undertow.run
// (the run id) and undertow.owner (pid and start time of the harness).
// `teardown` removes them (the netns and its rules die with each container);
// Ctrl-C and SIGTERM tear down before the process exits; a process 'exit'
// without teardown removes them synchronously with the docker CLI; and
// `cleanupLeftovers` removes whatever a SIGKILLed harness left (owner dead).

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import type Docker from 'dockerode';
import { faketimeEnv, writeOffset } from '../nemesis/clock.js';
import { forgetJournals, powerEnv, powerShim, rollBack, SHIM_FILE } from '../nemesis/power.js';
import { chainName, installDrops, netnsNetfilter, removeChain } from '../nemesis/iptables.js';
import { applyPacket, classMinor, clearSlot, netnsTc, rootQdisc, TC_MAJOR, type Netem } from '../nemesis/packet.js';
import type { Cluster, ClusterSpec, Grudge, NodeInfo, PowerLoss, Provider } from '../harness/core/provider.js';
import { CpuTotal } from '../harness/core/cpu-total.js';
import { connectEngine, deadRuns, DETACHED, LABEL, ownerToken, removeContainer, removeNetwork, removeRuns } from './engine.js';
import { IMAGE_FAKETIME_LIBRARY, imageOf } from './image.js';

/** Inside each container: the node's data and its clock file's folder (bind mounts). */
const DATA_MOUNT = '/data';
const CLOCK_MOUNT = '/undertow/clock';
const CLOCK_FILE = 'offset';
/** The power shim and its journals (power faults). */
const POWER_MOUNT = '/undertow/power';

export const networkName = (runId: string): string => `undertow-${runId}`;
export const containerName = (runId: string, node: string): string => `undertow-${runId}-${node}`;

/** Where a node's host-side files live: its log, its data and its clock file. */
export function nodeDir(runDir: string, node: string): string {
  return path.join(runDir, 'nodes', node);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- the network ---------------------------------------------------------------------

/** The /24s the engine's networks already use (IPv4 only). */
async function usedSubnets(docker: Docker): Promise<Set<string>> {
  const used = new Set<string>();
  for (const n of await docker.listNetworks()) {
    for (const c of n.IPAM?.Config ?? []) if (c.Subnet) used.add(c.Subnet);
  }
  return used;
}

/**
 * Creates the run's network on a free 10.77.X.0/24 (X from a random start, so
 * that concurrent runs rarely race; a lost race is an "overlaps" error and the
 * next X is tried).
 */
async function createNetwork(docker: Docker, runId: string, labels: Record<string, string>): Promise<{ id: string; prefix: string }> {
  const used = await usedSubnets(docker);
  const start = Math.floor(Math.random() * 254);
  let lastError: unknown;
  for (let i = 0; i < 254; i++) {
    const x = ((start + i) % 254) + 1;
    const subnet = `10.77.${x}.0/24`;
    if (used.has(subnet)) continue;
    try {
      const net = await docker.createNetwork({
        Name: networkName(runId),
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: labels,
        IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: `10.77.${x}.1` }] },
      });
      return { id: net.id, prefix: `10.77.${x}` };
    } catch (e) {
      lastError = e;
      const msg = String((e as Error).message);
      if (/already exists/.test(msg))
        throw new Error(`a network ${networkName(runId)} exists already: is run ${runId} still up? (undertow cluster down removes it)`);
      if (!/overlap|Pool/i.test(msg)) throw e;
    }
  }
  throw new Error(`no free 10.77.X.0/24 for the run's network: ${String((lastError as Error | undefined)?.message ?? 'all in use')}`);
}

// --- the cluster ---------------------------------------------------------------------

interface NodeHandle {
  readonly info: NodeInfo;
  readonly ip: string;
  /** Replaced when `startFresh` gives the node other flags (a container's command is fixed). */
  container: Docker.Container;
  running: boolean;
  paused: boolean;
  /** Bumped by every start, so that a late "die" event of an earlier run is ignored. */
  starts: number;
  log?: { stream: NodeJS.ReadableStream; file: Writable };
}

/** Creates a node's container; `join`: launched to join a running cluster (for `startFresh`). */
export type CreateNode = (node: NodeInfo, join: boolean) => Promise<Docker.Container>;

/** A container's interface on the run's network. */
const PACKET_DEV = 'eth0';

/**
 * CPU seconds a running container has used (its cgroup's counter, read from
 * the host's /sys/fs/cgroup: cgroup v1's cpuacct.usage in ns or v2's
 * cpu.stat usage_usec, under the engine's cgroupfs or systemd layout); NaN
 * when none of them is there (a stopped container, another cgroup parent,
 * an engine on another machine).
 */
export function containerCpuSeconds(id: string, root = '/sys/fs/cgroup'): number {
  for (const dir of [`${root}/cpuacct/docker/${id}`, `${root}/cpu,cpuacct/docker/${id}`]) {
    try {
      return Number(fs.readFileSync(`${dir}/cpuacct.usage`, 'utf8').trim()) / 1e9;
    } catch {
      /* not this layout */
    }
  }
  for (const dir of [`${root}/system.slice/docker-${id}.scope`, `${root}/docker/${id}`, `${root}/unified/docker/${id}`]) {
    try {
      const m = /^usage_usec (\d+)$/m.exec(fs.readFileSync(`${dir}/cpu.stat`, 'utf8'));
      if (m) return Number(m[1]) / 1e6;
    } catch {
      /* not this layout */
    }
  }
  return NaN;
}

export class DockerCluster implements Cluster {
  private readonly handles = new Map<string, NodeHandle>();
  private readonly chain: string;
  private grudge: Grudge | null = null;
  /** The packet fault in force: on which nodes, what. */
  private packetFault: { nodes: ReadonlySet<string>; netem: Netem } | null = null;
  private tornDown = false;
  /** The containers' CPU seconds, added up over their restarts. */
  private readonly cpu = new CpuTotal();
  private readonly unhook: () => void;
  private events?: NodeJS.ReadableStream;

  constructor(
    private readonly docker: Docker,
    private readonly spec: ClusterSpec,
    readonly nodes: readonly NodeInfo[],
    private readonly networkId: string,
    containers: ReadonlyMap<string, Docker.Container>,
    /** Detached clusters outlive this process: no log streaming, no exit hooks. */
    private readonly detached: boolean,
    private readonly createNode?: CreateNode,
  ) {
    this.chain = chainName(spec.runId);
    for (const info of nodes) {
      this.handles.set(info.name, { info, ip: info.host, container: containers.get(info.name)!, running: false, paused: false, starts: 0 });
    }
    this.unhook = detached ? () => undefined : hookProcessExit(this);
  }

  get runId(): string {
    return this.spec.runId;
  }

  private handle(node: string): NodeHandle {
    const h = this.handles.get(node);
    if (h === undefined) throw new Error(`no node ${node} in this cluster (nodes: ${[...this.handles.keys()].join(', ')})`);
    return h;
  }

  /** The container's id, for tests and tools (docker exec, inspect). */
  containerId(node: string): string {
    return this.handle(node).container.id;
  }

  cpuSeconds(): number {
    // A restarted container has a fresh cgroup, counting from 0 again: CpuTotal keeps what it used before.
    return this.cpu.add([...this.handles].map(([name, h]) => [name, containerCpuSeconds(h.container.id)] as const));
  }

  async start(node: string): Promise<void> {
    if (this.tornDown) throw new Error('the cluster is torn down');
    const h = this.handle(node);
    if (h.running) return;
    // Attach before start (as `docker start -a` does) so that no line is lost.
    if (!this.detached) await this.streamLog(h);
    h.starts++;
    await h.container.start();
    h.running = true;
    h.paused = false;
    // A restarted container has a fresh network namespace: re-apply the partition in force.
    if (this.grudge !== null) await this.applyTo(h, this.grudge);
    if (this.packetFault?.nodes.has(node) === true) await this.packetOn(h, this.packetFault.netem);
  }

  async startFresh(node: string, o: { readonly join?: boolean } = {}): Promise<void> {
    if (this.tornDown) throw new Error('the cluster is torn down');
    const h = this.handle(node);
    if (h.running) throw new Error(`${node} is running: stop it before starting it on an empty disk`);
    // Empty the bind-mounted folder (not the folder itself: it is the mount's source).
    const dataDir = path.join(nodeDir(this.spec.runDir, node), 'data');
    for (const f of fs.readdirSync(dataDir)) fs.rmSync(path.join(dataDir, f), { recursive: true, force: true });
    forgetJournals(path.join(nodeDir(this.spec.runDir, node), 'power'));
    if (o.join === true) {
      // The command is part of the container: a new one with the same name, address and mounts.
      if (this.createNode === undefined) throw new Error('this cluster cannot recreate containers (it was not started by this process)');
      await removeContainer(this.docker, h.container.id);
      h.container = await this.createNode(h.info, true);
    }
    await this.start(node);
  }

  async kill(node: string): Promise<void> {
    const h = this.handle(node);
    if (!h.running) return;
    // A paused container takes SIGKILL too (the engine thaws it after the signal, so the node never runs again).
    await h.container.kill({ signal: 'SIGKILL' }).catch((e: unknown) => {
      if (!/is not running/.test(String((e as Error).message))) throw e;
    });
    await h.container.wait({ condition: 'not-running' });
    h.running = false;
    h.paused = false;
  }

  async powerFail(node: string): Promise<PowerLoss> {
    if (!this.spec.powerFaults) throw new Error('power faults need the cluster started with powerFaults (the shim)');
    const h = this.handle(node);
    if (h.running) {
      // A shim that did not load would make this a plain kill: say so instead (the host sees the container's process).
      const pid = (await h.container.inspect().catch(() => null))?.State.Pid ?? 0;
      let maps = '';
      try {
        if (pid > 0) maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
      } catch {
        /* not ours to read, or gone meanwhile */
      }
      if (maps !== '' && !maps.includes(`${POWER_MOUNT}/${SHIM_FILE}`))
        throw new Error(`the power shim is not loaded in ${node}'s container: its unsynced writes cannot be dropped`);
    }
    await this.kill(node);
    const dir = nodeDir(this.spec.runDir, node);
    const dataDir = path.resolve(dir, 'data');
    return rollBack(path.resolve(dir, 'power'), dataDir, (p) =>
      p === DATA_MOUNT || p.startsWith(`${DATA_MOUNT}/`) ? dataDir + p.slice(DATA_MOUNT.length) : p,
    );
  }

  async pause(node: string): Promise<void> {
    const h = this.handle(node);
    if (!h.running || h.paused) return;
    await h.container.pause();
    h.paused = true;
  }

  async resume(node: string): Promise<void> {
    const h = this.handle(node);
    if (!h.running || !h.paused) return;
    await h.container.unpause();
    h.paused = false;
  }

  async setClockOffset(node: string, offsetMs: number): Promise<void> {
    if (!this.spec.fakeClock) throw new Error('clock faults need the cluster started with fakeClock (libfaketime)');
    this.handle(node);
    writeOffset(path.join(nodeDir(this.spec.runDir, node), 'clock', CLOCK_FILE), offsetMs);
  }

  async partition(grudge: Grudge): Promise<void> {
    for (const [victim, from] of Object.entries(grudge)) {
      this.handle(victim);
      for (const f of from) this.handle(f);
    }
    this.grudge = grudge;
    await Promise.all([...this.handles.values()].filter((h) => h.running).map((h) => this.applyTo(h, grudge)));
  }

  async heal(): Promise<void> {
    if (this.grudge === null) return;
    this.grudge = null;
    await Promise.all([...this.handles.values()].filter((h) => h.running).map(async (h) => removeChain(netnsNetfilter(await this.pid(h)), this.chain)));
  }

  dataDir(node: string): string {
    this.handle(node);
    return path.resolve(nodeDir(this.spec.runDir, node), 'data');
  }

  async packet(nodes: readonly string[], netem: Netem): Promise<void> {
    for (const n of nodes) this.handle(n);
    const old = this.packetFault;
    this.packetFault = { nodes: new Set(nodes), netem };
    await Promise.all(
      [...this.handles.values()]
        .filter((h) => h.running)
        .map(async (h) => {
          if (nodes.includes(h.info.name)) await this.packetOn(h, netem);
          else if (old?.nodes.has(h.info.name) === true) await this.packetOff(h);
        }),
    );
  }

  async clearPacket(): Promise<void> {
    const old = this.packetFault;
    if (old === null) return;
    this.packetFault = null;
    await Promise.all([...this.handles.values()].filter((h) => h.running && old.nodes.has(h.info.name)).map((h) => this.packetOff(h)));
  }

  /** The container's eth0 (its whole traffic: the netns is its own) through an HTB class and netem; whatever it held before, replaced. */
  private async packetOn(h: NodeHandle, netem: Netem): Promise<void> {
    const tc = netnsTc(await this.pid(h));
    await this.packetOff(h, tc);
    await applyPacket(tc, PACKET_DEV, this.spec.runId, null, 'all', netem);
  }

  private async packetOff(h: NodeHandle, tc?: ReturnType<typeof netnsTc>): Promise<void> {
    const t = tc ?? netnsTc(await this.pid(h));
    await clearSlot(t, { dev: PACKET_DEV, minor: classMinor(this.spec.runId) });
    // Nothing of ours may stay, whatever minor it had.
    const root = await rootQdisc(t, PACKET_DEV);
    if (root?.kind === 'htb' && root.handle === `${TC_MAJOR}:`) await t.run(['qdisc', 'del', 'dev', PACKET_DEV, 'root']);
  }

  isRunning(node: string): boolean {
    return this.handle(node).running;
  }

  /** Runs `argv` inside the node's container (with the container's environment); resolves with its exit code and output. */
  async exec(node: string, argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const h = this.handle(node);
    const ex = await h.container.exec({ Cmd: [...argv], AttachStdout: true, AttachStderr: true });
    const stream = await ex.start({ hijack: true, stdin: false });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.demuxStream(stream, sink(out), sink(err));
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
    });
    const { ExitCode } = await ex.inspect();
    return { code: ExitCode ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
  }

  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    this.unhook();
    (this.events as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    await Promise.all([...this.handles.values()].map((h) => removeContainer(this.docker, h.container.id)));
    for (const h of this.handles.values()) this.closeLog(h);
    await removeNetwork(this.docker, this.networkId);
  }

  /** For the process 'exit' hook: remove everything with the docker CLI, synchronously. */
  teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    const ids = [...this.handles.values()].map((h) => h.container.id);
    spawnSync('docker', ['rm', '-f', '-v', ...ids], { stdio: 'ignore', timeout: 30_000 });
    spawnSync('docker', ['network', 'rm', this.networkId], { stdio: 'ignore', timeout: 30_000 });
  }

  /**
   * Follows the engine's "die" events of this run's containers, so that
   * `isRunning` turns false when a node exits by itself (a crash, a violated
   * invariant), as it does for our own kill.
   */
  async watchDeaths(): Promise<void> {
    const stream = (await this.docker.getEvents({
      filters: { type: ['container'], event: ['die'], label: [`${LABEL.run}=${this.spec.runId}`] },
    })) as NodeJS.ReadableStream;
    this.events = stream;
    stream.on('error', () => undefined);
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += String(chunk);
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines.filter((l) => l.trim() !== '')) {
        const node = (JSON.parse(line) as { Actor?: { Attributes?: Record<string, string> } }).Actor?.Attributes?.[LABEL.node];
        const h = node === undefined ? undefined : this.handles.get(node);
        if (h === undefined || !h.running) continue;
        const starts = h.starts;
        // The event may be the late echo of a kill that a start has since undone: ask the engine.
        void h.container.inspect().then(
          (st) => {
            if (h.starts === starts && !st.State.Running) {
              h.running = false;
              h.paused = false;
            }
          },
          () => undefined,
        );
      }
    });
  }

  private async pid(h: NodeHandle): Promise<number> {
    const st = await h.container.inspect();
    if (!st.State.Pid) throw new Error(`${h.info.name} has no process (state ${st.State.Status})`);
    return st.State.Pid;
  }

  private async applyTo(h: NodeHandle, grudge: Grudge): Promise<void> {
    const drops = (grudge[h.info.name] ?? []).map((from) => ({ src: this.handle(from).ip }));
    const nf = netnsNetfilter(await this.pid(h));
    if (drops.length === 0) await removeChain(nf, this.chain);
    else await installDrops(nf, this.chain, drops);
  }

  private async streamLog(h: NodeHandle): Promise<void> {
    this.closeLog(h);
    const dir = nodeDir(this.spec.runDir, h.info.name);
    const stream = (await h.container.attach({ stream: true, stdout: true, stderr: true, logs: false })) as NodeJS.ReadableStream;
    const file = fs.createWriteStream(path.join(dir, `${h.info.name}.log`), { flags: 'a' });
    file.on('error', () => undefined);
    stream.on('error', () => undefined);
    // stdout and stderr into one file, in the order they arrive.
    this.docker.modem.demuxStream(stream, file, file);
    stream.on('end', () => file.end());
    h.log = { stream, file };
  }

  private closeLog(h: NodeHandle): void {
    if (h.log === undefined) return;
    (h.log.stream as unknown as { destroy?: () => void }).destroy?.();
    h.log.file.end();
    h.log = undefined;
  }
}

function sink(into: Buffer[]): Writable {
  return { write: (chunk: Buffer) => (into.push(Buffer.from(chunk)), true) } as unknown as Writable;
}

// Live clusters of this process, torn down on Ctrl-C, SIGTERM and exit.
const live = new Set<DockerCluster>();
let hooked = false;

function onSignal(signal: NodeJS.Signals): void {
  // Someone else handles the signal (the test runner stops its clients first and
  // tears down itself): leave it to them; the 'exit' hook is the backstop.
  if (process.listenerCount(signal) > 1) return;
  void Promise.allSettled([...live].map((c) => c.teardown())).then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
}

function onExit(): void {
  for (const c of live) c.teardownSync();
}

function hookProcessExit(c: DockerCluster): () => void {
  live.add(c);
  if (!hooked) {
    hooked = true;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', onExit);
  }
  return () => {
    live.delete(c);
    if (live.size === 0 && hooked) {
      hooked = false;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', onExit);
    }
  };
}

// --- the provider --------------------------------------------------------------------

export interface DockerProviderOptions {
  /** The image's tag (default: the deployment's image, built if needed). */
  readonly image?: string;
  /** How long `up` waits for a ready cluster. */
  readonly readyTimeoutMs?: number;
  /** The cluster outlives this process (`undertow cluster up`): owner label "detached", no log streaming. */
  readonly detached?: boolean;
  /**
   * Called after each step of `up` with its name and duration: image, network,
   * containers, start, ready (the deployment's view says so).
   */
  readonly onStep?: (step: string, ms: number) => void;
}

/** A Provider whose clusters are DockerClusters (with exec and containerId for tests and tools). */
export type DockerProvider = Omit<Provider, 'up'> & { up(spec: ClusterSpec, signal?: AbortSignal): Promise<DockerCluster> };

export function dockerProvider(o: DockerProviderOptions = {}): DockerProvider {
  return {
    name: 'docker',

    async cleanupLeftovers() {
      const docker = await connectEngine();
      const dead = await deadRuns(docker);
      if (dead.length > 0) await removeRuns(docker, dead);
    },

    async up(spec, signal) {
      const t0 = performance.now();
      let last = t0;
      const step = (name: string) => {
        const now = performance.now();
        o.onStep?.(name, now - last);
        last = now;
      };
      const docker = await connectEngine();
      const dead = await deadRuns(docker);
      if (dead.length > 0) await removeRuns(docker, dead);
      const d = spec.deployment;
      const image = o.image ?? (await imageOf(docker, d.image)).tag;
      const shim = spec.powerFaults ? await powerShim() : null;
      step('image');

      const labels = { [LABEL.run]: spec.runId, [LABEL.owner]: o.detached ? DETACHED : ownerToken(), [LABEL.runDir]: path.resolve(spec.runDir) };
      const net = await createNetwork(docker, spec.runId, labels);
      step('network');
      // The nodes at .11, .12, ... in the deployment's order.
      const nodes: NodeInfo[] = d.nodes.map((n, i) => ({
        name: n.name,
        role: n.role,
        host: `${net.prefix}.${11 + i}`,
        address: `${net.prefix}.${11 + i}:${d.ports.client}`,
      }));

      const containers = new Map<string, Docker.Container>();
      let cluster: DockerCluster | undefined;
      const view = d.view(nodes);
      try {
        const created = await Promise.allSettled(
          nodes.map(async (n) => containers.set(n.name, await createNodeContainer(docker, spec, nodes, n, image, labels, false, shim))),
        );
        const failed = created.find((r) => r.status === 'rejected');
        if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
        step('containers');
        const createNode: CreateNode = (n, join) => createNodeContainer(docker, spec, nodes, n, image, labels, join, shim);
        cluster = new DockerCluster(docker, spec, nodes, net.id, containers, o.detached ?? false, createNode);
        if (!o.detached) await cluster.watchDeaths();
        await Promise.all(nodes.map((n) => cluster!.start(n.name)));
        step('start');
        const timeout = o.readyTimeoutMs ?? 30_000;
        const deadline = performance.now() + timeout;
        for (let round = 0; ; round++) {
          if (signal?.aborted) throw new Error('interrupted while the cluster was starting');
          // A node that exited (bad flags, a crash) will never answer: fail now, pointing at its log.
          if (round % 10 === 9) {
            const exited = await exitedNodes(containers);
            if (exited.length > 0) {
              const first = exited[0];
              throw new Error(
                `the docker cluster did not come up: ${exited.map((x) => `${x.name} exited with code ${x.code}`).join(', ')} (see ${path.join(nodeDir(spec.runDir, first.name), `${first.name}.log`)})`,
              );
            }
          }
          // Bounded: a connect to an address whose container is gone is never refused, only unanswered.
          if (
            (await within(
              view.ready().catch(() => false),
              2000,
            )) === true
          )
            break;
          if (performance.now() > deadline) {
            throw new Error(`the docker cluster was not ready within ${timeout} ms (see the node logs in ${path.join(spec.runDir, 'nodes')})`);
          }
          await sleep(50);
        }
        step('ready');
        return cluster;
      } catch (e) {
        await cluster?.teardown();
        // Whatever else carries the run's label (a container whose creation raced the failure).
        await removeRuns(docker, [spec.runId]);
        throw e;
      } finally {
        view.close();
      }
    },
  };
}

async function createNodeContainer(
  docker: Docker,
  spec: ClusterSpec,
  nodes: readonly NodeInfo[],
  n: NodeInfo,
  image: string,
  labels: Record<string, string>,
  join = false,
  shim: string | null = null,
): Promise<Docker.Container> {
  const dir = nodeDir(spec.runDir, n.name);
  const dataDir = path.resolve(dir, 'data');
  const clockDir = path.resolve(dir, 'clock');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.mkdirSync(clockDir, { recursive: true });
  const launch = spec.deployment.launch({ provider: 'docker', node: n, nodes, dataDir: DATA_MOUNT, join });
  const vars: Record<string, string> = { ...(launch.env ?? {}) };
  if (spec.fakeClock && !fs.existsSync(path.join(clockDir, CLOCK_FILE))) writeOffset(path.join(clockDir, CLOCK_FILE), 0);
  if (spec.fakeClock) Object.assign(vars, faketimeEnv(`${CLOCK_MOUNT}/${CLOCK_FILE}`, IMAGE_FAKETIME_LIBRARY));
  const binds = [`${dataDir}:${DATA_MOUNT}`, `${clockDir}:${CLOCK_MOUNT}`];
  if (spec.powerFaults) {
    if (shim === null) throw new Error('power faults need the power shim');
    // The host-built shim goes in with its journals: it needs only the C library, which the image has (the host's).
    const powerDir = path.resolve(dir, 'power');
    fs.mkdirSync(powerDir, { recursive: true });
    if (!fs.existsSync(path.join(powerDir, SHIM_FILE))) fs.copyFileSync(shim, path.join(powerDir, SHIM_FILE));
    Object.assign(vars, powerEnv({ library: `${POWER_MOUNT}/${SHIM_FILE}`, journalDir: POWER_MOUNT, root: DATA_MOUNT, preload: vars.LD_PRELOAD }));
    binds.push(`${powerDir}:${POWER_MOUNT}`);
  }
  const env: string[] = Object.entries(vars).map(([k, v]) => `${k}=${v}`);
  const ip = n.host;
  const netName = networkName(spec.runId);
  // Run as the harness's user, so that the files in the run's folder are its own.
  const user = process.getuid && process.getgid ? `${process.getuid()}:${process.getgid()}` : undefined;
  return docker.createContainer({
    name: containerName(spec.runId, n.name),
    Hostname: n.name,
    Image: image,
    Entrypoint: [...launch.argv],
    Cmd: [],
    Env: env,
    User: user,
    Labels: { ...labels, [LABEL.node]: n.name },
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      Binds: binds,
      NetworkMode: netName,
      RestartPolicy: { Name: 'no' },
    },
    NetworkingConfig: { EndpointsConfig: { [netName]: { IPAMConfig: { IPv4Address: ip } } } },
  });
}

async function exitedNodes(containers: ReadonlyMap<string, Docker.Container>): Promise<{ name: string; code: number }[]> {
  const states = await Promise.all([...containers].map(async ([name, c]) => ({ name, st: await c.inspect().catch(() => null) })));
  return states.filter(({ st }) => st !== null && !st.State.Running).map(({ name, st }) => ({ name, code: st!.State.ExitCode }));
}

/** `p`'s value, or undefined if it takes longer than `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
