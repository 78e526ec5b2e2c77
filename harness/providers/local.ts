// The local provider: every node an OS process (the command line its
// system's deployment gives) on its own loopback address (127.A.B.x, a block
// picked at random per run, so runs and tests side by side do not collide),
// its data and log under the run's folder. Faults act on the processes
// directly: SIGKILL and a fresh spawn on the same data, SIGSTOP/SIGCONT, a
// libfaketime offset file per process, iptables rules on loopback, and tc
// on loopback for packet faults (nemesis/packet.ts: filtered by the nodes'
// source addresses, so the rest of the machine is untouched). How a
// rule tells nodes apart depends on the system (`localPartitioning`): nodes
// that bind their outgoing connections to their own address are told apart
// by source address ("127.A.B.2 -> 127.A.B.3" cuts exactly that link); for
// the others each node runs as a user of its own and rules match the
// sender's owner. The harness's clients are never cut: they come from
// 127.0.0.1 and run as the harness's user.
//
// Cleanup: teardown kills every process and removes the iptables chain and
// the run's tc class and filters; a registry file per run (in the OS temp
// dir) names the harness pid, the node pids and the tc class, so that
// `cleanupLeftovers` at the next start kills and removes what a SIGKILLed
// harness left behind.

import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  statSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { faketimeEnv, faketimeLibrary, writeOffset } from '../../nemesis/clock.js';
import { forgetJournals, powerEnv, powerShim, rollBack, SHIM_FILE } from '../../nemesis/power.js';
import {
  chainName,
  grudgeDrops,
  hostNetfilter,
  installDrops,
  installMarks,
  iptablesUsable,
  leftoverChains,
  ownerDrops,
  ownerMarks,
  removeChain,
} from '../../nemesis/iptables.js';
import {
  applyPacket,
  clearSlot,
  hostTc,
  installClassify,
  leftoverClassifyChains,
  packetSlots,
  removeClassify,
  removeRootIfUnused,
  withLoopbackLock,
  type Netem,
  type PacketSlot,
} from '../../nemesis/packet.js';
import type { Cluster, ClusterSpec, Grudge, NodeInfo, PowerLoss, Provider } from '../core/provider.js';
import { processAlive as alive } from '../core/process.js';

const REGISTRY = join(tmpdir(), 'undertow-local');

/** The run's chain of connection marks (owner partitions), beside its partition chain. */
const marksChain = (runId: string): string => chainName(`${runId}-m`);
/** The run's mangle chain that classifies its nodes' packets by owner (packet faults of owner-partitioned systems). */
const classifyChain = (runId: string): string => chainName(`${runId}-q`);
/** Nodes that run as users of their own (owner partitioning) get uids from here up. */
export const NODE_UID_BASE = 47_000;

interface Registry {
  harnessPid: number;
  runDir: string;
  chain: string;
  pids: Record<string, number>;
  /** The run's tc class minor on lo (packet faults), from before it is added until it is removed. */
  packetMinor?: number;
}

/**
 * A process is ours if its command line names a path under this run's nodes/
 * folder (every node's data dir is there). Not the run folder alone: a
 * command that reads the run (`undertow bench compare RUN ...`, `undertow
 * analyze RUN`) right after it ended would be taken for a node by the reaper.
 */
function ownedBy(pid: number, runDir: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(join(runDir, 'nodes') + sep);
  } catch {
    return false;
  }
}

/** Processes whose command line names a path under `runDir`/nodes/ (every node of the local provider does: its data dir). */
export function processesOf(runDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (ownedBy(Number(entry), runDir)) pids.push(Number(entry));
  }
  return pids;
}

async function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.createServer();
    s.once('error', () => res(false));
    s.listen(port, host, () => s.close(() => res(true)));
  });
}

/** A /24 block of 127/8 where every node's ports are free. */
async function pickBlock(count: number, ports: readonly number[]): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const block = `127.${100 + Math.floor(Math.random() * 150)}.${1 + Math.floor(Math.random() * 250)}`;
    const hosts = Array.from({ length: count }, (_, i) => `${block}.${i + 2}`);
    if ((await Promise.all(hosts.flatMap((h) => ports.map((p) => canListen(h, p))))).every(Boolean)) return block;
  }
  throw new Error('no free loopback block for the cluster after 20 tries');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The process's state letter in /proc (R, S, T, Z, ...), or null when it is gone. */
function procState(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0];
  } catch {
    return null;
  }
}

async function waitForState(pid: number, ok: (state: string) => boolean, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    const s = procState(pid);
    if (s === null || ok(s) || performance.now() > end) return;
    await sleep(5);
  }
}

class LocalCluster implements Cluster {
  private readonly procs = new Map<string, ChildProcess>();
  /** Nodes started by `startFresh` with `join`: they keep joining on their later restarts. */
  private readonly joined = new Set<string>();
  private readonly paused = new Set<string>();
  private readonly chain: string;
  private readonly registryFile: string;
  private partitioned = false;
  /** The chain of connection marks owner partitions rely on, while it is installed. */
  private marks: string | null = null;
  /** The run's tc class on lo while a packet fault is in force (or being added). */
  private packetSlot: PacketSlot | null = null;
  /** Packet faults being applied right now (a teardown then waits for them under the lock). */
  private packetBusy = 0;
  private tornDown = false;

  constructor(
    private readonly spec: ClusterSpec,
    readonly nodes: readonly NodeInfo[],
    /** The power shim's library on this machine (with spec.powerFaults). */
    private readonly shim: string | null = null,
  ) {
    this.chain = chainName(spec.runId);
    this.registryFile = join(REGISTRY, `${spec.runId}.json`);
  }

  private nodeDir(node: string): string {
    return join(this.spec.runDir, 'nodes', node);
  }

  private clockFile(node: string): string {
    return join(this.nodeDir(node), 'faketime');
  }

  /** The node's power journals and its copy of the shim (readable by a node of its own user, unlike the cache in root's home). */
  private powerDir(node: string): string {
    return join(this.nodeDir(node), 'power');
  }

  /** The node's own uid when nodes are told apart by owner, else undefined (it runs as the harness). */
  private uid(node: string): number | undefined {
    if (this.spec.deployment.localPartitioning !== 'owner') return undefined;
    return NODE_UID_BASE + this.nodes.findIndex((n) => n.name === node) + 1;
  }

  private info(node: string): NodeInfo {
    const n = this.nodes.find((x) => x.name === node);
    if (!n) throw new Error(`no node ${node} in this cluster`);
    return n;
  }

  private saveRegistry(): void {
    mkdirSync(REGISTRY, { recursive: true });
    const pids = Object.fromEntries([...this.procs].filter(([, p]) => p.pid !== undefined).map(([n, p]) => [n, p.pid!]));
    const r: Registry = {
      harnessPid: process.pid,
      runDir: this.spec.runDir,
      chain: this.chain,
      pids,
      ...(this.packetSlot !== null ? { packetMinor: this.packetSlot.minor } : {}),
    };
    writeFileSync(this.registryFile, JSON.stringify(r));
  }

  async start(node: string): Promise<void> {
    if (this.tornDown) throw new Error('the cluster is torn down');
    if (this.isRunning(node)) return;
    const info = this.info(node);
    const dir = this.nodeDir(node);
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const uid = this.uid(node);
    // A node of its own user must own its data.
    if (uid !== undefined) chownSync(dataDir, uid, uid);
    const log = openSync(join(dir, `${node}.log`), 'a');
    const launch = this.spec.deployment.launch({ provider: 'local', node: info, nodes: this.nodes, dataDir, join: this.joined.has(node) });
    const env: NodeJS.ProcessEnv = { ...(launch.inheritEnv === false ? { PATH: process.env.PATH ?? '/usr/bin:/bin' } : process.env), ...launch.env };
    if (this.spec.fakeClock) {
      if (!existsSync(this.clockFile(node))) writeOffset(this.clockFile(node), 0);
      Object.assign(env, faketimeEnv(this.clockFile(node)));
    }
    if (this.spec.powerFaults) {
      if (this.shim === null) throw new Error('power faults need the cluster started with powerFaults (the shim)');
      const dir = this.powerDir(node);
      mkdirSync(dir, { recursive: true });
      if (!existsSync(join(dir, SHIM_FILE))) copyFileSync(this.shim, join(dir, SHIM_FILE));
      if (uid !== undefined) chownSync(dir, uid, uid);
      Object.assign(env, powerEnv({ library: join(dir, SHIM_FILE), journalDir: dir, root: dataDir, preload: env.LD_PRELOAD }));
    }
    const child = spawn(launch.argv[0], launch.argv.slice(1), {
      stdio: ['ignore', log, log],
      env,
      ...(uid !== undefined ? { uid, gid: uid } : {}),
    });
    closeSync(log);
    child.on('error', () => undefined);
    this.procs.set(node, child);
    this.paused.delete(node);
    this.saveRegistry();
  }

  async startFresh(node: string, o: { readonly join?: boolean } = {}): Promise<void> {
    if (this.tornDown) throw new Error('the cluster is torn down');
    const info = this.info(node);
    if (this.isRunning(node)) throw new Error(`${info.name} is running: stop it before starting it on an empty disk`);
    rmSync(join(this.nodeDir(node), 'data'), { recursive: true, force: true });
    forgetJournals(this.powerDir(node));
    if (o.join === true) this.joined.add(node);
    await this.start(node);
  }

  async kill(node: string): Promise<void> {
    const p = this.procs.get(node);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    this.paused.delete(node);
  }

  async powerFail(node: string): Promise<PowerLoss> {
    if (!this.spec.powerFaults) throw new Error('power faults need the cluster started with powerFaults (the shim)');
    const p = this.procs.get(node);
    if (p?.pid !== undefined && this.isRunning(node)) {
      // A shim that did not load (a static program, a path the node cannot read) would make this a plain kill: say so instead.
      let maps = '';
      try {
        maps = readFileSync(`/proc/${p.pid}/maps`, 'utf8');
      } catch {
        /* gone meanwhile: nothing more it can write */
      }
      if (maps !== '' && !maps.includes(join(this.powerDir(node), SHIM_FILE)))
        throw new Error(`the power shim is not loaded in ${node} (pid ${p.pid}): its unsynced writes cannot be dropped`);
    }
    await this.kill(node);
    return rollBack(this.powerDir(node), join(this.nodeDir(node), 'data'));
  }

  async pause(node: string): Promise<void> {
    if (!this.isRunning(node)) return;
    const p = this.procs.get(node)!;
    p.kill('SIGSTOP');
    this.paused.add(node);
    // Signals are asynchronous: the fault is in force once the process is stopped, not when it was asked to.
    await waitForState(p.pid!, (s) => s === 'T');
  }

  async resume(node: string): Promise<void> {
    if (!this.isRunning(node)) return;
    const p = this.procs.get(node)!;
    p.kill('SIGCONT');
    this.paused.delete(node);
    await waitForState(p.pid!, (s) => s !== 'T');
  }

  async setClockOffset(node: string, offsetMs: number): Promise<void> {
    if (!this.spec.fakeClock) throw new Error('clock faults need the cluster started with fakeClock (libfaketime)');
    this.info(node);
    writeOffset(this.clockFile(node), offsetMs);
  }

  async partition(grudge: Grudge): Promise<void> {
    const ip = (node: string) => this.info(node).host;
    this.partitioned = true;
    const drops = this.spec.deployment.localPartitioning === 'owner' ? ownerDrops(grudge, (n) => this.uid(n)!, ip) : grudgeDrops(grudge, ip);
    await installDrops(hostNetfilter(), this.chain, drops);
  }

  /**
   * Owner partitions cut a node's replies on connections another node opened
   * by the connection's mark (nemesis/iptables.ts): every connection is
   * marked from its first packet when the marks are in place before any node
   * starts. Without iptables (no partitions possible here) there is nothing to mark.
   */
  async installMarks(): Promise<void> {
    if (this.spec.deployment.localPartitioning !== 'owner' || !(await iptablesUsable()).ok) return;
    const chain = marksChain(this.spec.runId);
    this.marks = chain;
    // Registered first: another harness's leftover cleanup must see this run as live before its chain exists.
    this.saveRegistry();
    await installMarks(
      hostNetfilter(),
      chain,
      ownerMarks(
        this.nodes.map((n) => n.name),
        (n) => this.uid(n)!,
        (n) => this.info(n).host,
      ),
    );
  }

  async heal(): Promise<void> {
    if (!this.partitioned) return;
    await removeChain(hostNetfilter(), this.chain);
    this.partitioned = false;
  }

  dataDir(node: string): string {
    this.info(node);
    return join(this.nodeDir(node), 'data');
  }

  async packet(nodes: readonly string[], netem: Netem): Promise<void> {
    const owner = this.spec.deployment.localPartitioning === 'owner';
    const chosen = [...new Set(nodes)];
    for (const n of chosen) this.info(n);
    this.packetBusy++;
    try {
      await withLoopbackLock(async () => {
        // Checked under the lock: a teardown (Ctrl-C) racing this fault either finds its class or finds none added.
        if (this.tornDown) throw new Error('the cluster is torn down');
        // By owner: the class is set by iptables (the nodes dial from 127.0.0.1); by address: u32 filters on the sources.
        if (owner) await removeClassify(hostNetfilter(), classifyChain(this.spec.runId));
        const sources = owner ? 'classified' : chosen.map((n) => this.info(n).host);
        this.packetSlot = await applyPacket(hostTc(), 'lo', this.spec.runId, this.packetSlot, sources, netem, (slot) => {
          // Registered before it exists: another harness's leftover cleanup must see it as this live run's.
          this.packetSlot = slot;
          this.saveRegistry();
        });
        if (owner)
          await installClassify(
            hostNetfilter(),
            classifyChain(this.spec.runId),
            chosen.map((n) => this.uid(n)!),
            this.packetSlot,
          );
      });
    } finally {
      this.packetBusy--;
    }
  }

  async clearPacket(): Promise<void> {
    if (this.packetSlot === null && this.packetBusy === 0) return;
    await withLoopbackLock(async () => {
      const slot = this.packetSlot;
      if (slot === null) return;
      if (this.spec.deployment.localPartitioning === 'owner') await removeClassify(hostNetfilter(), classifyChain(this.spec.runId));
      await clearSlot(hostTc(), slot);
      this.packetSlot = null;
    });
    if (!this.tornDown) this.saveRegistry();
  }

  isRunning(node: string): boolean {
    const p = this.procs.get(node);
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const node of this.procs.keys()) {
      // A stopped process dies of SIGKILL too, but CONT first so that nothing lingers stopped.
      if (this.paused.has(node)) this.procs.get(node)!.kill('SIGCONT');
    }
    await Promise.all([...this.procs.keys()].map((n) => this.kill(n)));
    if (this.partitioned) await removeChain(hostNetfilter(), this.chain);
    if (this.marks !== null) await removeChain(hostNetfilter(), this.marks);
    this.marks = null;
    await this.clearPacket();
    rmSync(this.registryFile, { force: true });
  }

  /** Teardown without awaiting, for process 'exit' handlers. */
  teardownSync(): void {
    for (const p of this.procs.values()) {
      try {
        p.kill('SIGCONT');
        p.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

export interface LocalProviderOptions {
  /** How long `up` waits for a ready cluster. */
  readyTimeoutMs?: number;
}

export function localProvider(o: LocalProviderOptions = {}): Provider & { lastCluster?: LocalCluster } {
  return {
    name: 'local',

    async cleanupLeftovers() {
      if (!existsSync(REGISTRY)) return;
      for (const file of readdirSync(REGISTRY)) {
        const path = join(REGISTRY, file);
        let r: Registry;
        try {
          r = JSON.parse(readFileSync(path, 'utf8')) as Registry;
        } catch {
          rmSync(path, { force: true });
          continue;
        }
        if (alive(r.harnessPid) && r.harnessPid !== process.pid) continue;
        if (r.packetMinor !== undefined && process.getuid?.() === 0) {
          const slot = { dev: 'lo', minor: r.packetMinor };
          await withLoopbackLock(() => clearSlot(hostTc(), slot)).catch(() => undefined);
        }
        // The registry's pids, and any process naming the run's folder: a node the harness spawned
        // just before it died may have missed the registry (seen once in 100 interrupted runs).
        for (const pid of new Set([...Object.values(r.pids), ...processesOf(r.runDir)])) {
          if (ownedBy(pid, r.runDir)) {
            try {
              process.kill(pid, 'SIGCONT');
              process.kill(pid, 'SIGKILL');
            } catch {
              /* gone */
            }
          }
        }
        rmSync(path, { force: true });
      }
      // Chains of dead runs (a run that is alive has its registry file).
      const live = new Set(readdirSync(REGISTRY).flatMap((f) => [chainName(f.replace(/\.json$/, '')), marksChain(f.replace(/\.json$/, ''))]));
      if (process.getuid?.() === 0) {
        try {
          for (const chain of await leftoverChains(hostNetfilter())) if (!live.has(chain)) await removeChain(hostNetfilter(), chain);
          const liveClassify = new Set(readdirSync(REGISTRY).map((f) => classifyChain(f.replace(/\.json$/, ''))));
          for (const chain of await leftoverClassifyChains(hostNetfilter())) if (!liveClassify.has(chain)) await removeClassify(hostNetfilter(), chain);
        } catch {
          /* no iptables on this machine: nothing of ours can be there */
        }
        // tc classes on lo that no live run names (a registry file lost with its run), and then our root if unused.
        try {
          await withLoopbackLock(async () => {
            const held = new Set(
              readdirSync(REGISTRY).flatMap((f) => {
                try {
                  const m = (JSON.parse(readFileSync(join(REGISTRY, f), 'utf8')) as Registry).packetMinor;
                  return m === undefined ? [] : [m];
                } catch {
                  return [];
                }
              }),
            );
            for (const slot of await packetSlots(hostTc(), 'lo')) if (!held.has(slot.minor)) await clearSlot(hostTc(), slot, { keepRoot: true });
            await removeRootIfUnused(hostTc(), 'lo');
          });
        } catch {
          /* no tc on this machine: nothing of ours can be there */
        }
      }
    },

    async up(spec, signal) {
      if (spec.fakeClock && faketimeLibrary() === null) {
        throw new Error('clock faults need libfaketime: apt-get install -y faketime');
      }
      const shim = spec.powerFaults ? await powerShim() : null;
      const d = spec.deployment;
      if (d.localPartitioning === 'owner' && process.getuid?.() !== 0) {
        throw new Error('this system runs each node as a user of its own on the local provider (so partitions can tell them apart), which needs root');
      }
      const ports = [d.ports.client, ...(d.ports.peer !== undefined ? [d.ports.peer] : [])];
      const block = await pickBlock(d.nodes.length, ports);
      const nodes: NodeInfo[] = d.nodes.map((n, i) => ({
        name: n.name,
        role: n.role,
        host: `${block}.${i + 2}`,
        address: `${block}.${i + 2}:${d.ports.client}`,
      }));
      const cluster = new LocalCluster(spec, nodes, shim);
      const view = d.view(nodes);
      try {
        if (d.localPartitioning === 'owner') {
          // A node of its own user must be able to reach its folder under the run's (a temp dir is 0700):
          // every folder above it gets o+x (traverse, not list), which stays (docs/adapters.md says so).
          for (let dir = spec.runDir; dir !== dirname(dir); dir = dirname(dir)) {
            const mode = statSync(dir).mode;
            if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
          }
          await cluster.installMarks();
        }
        for (const n of nodes) await cluster.start(n.name);
        const deadline = performance.now() + (o.readyTimeoutMs ?? 30_000);
        for (;;) {
          if (signal?.aborted) throw new Error('interrupted while the cluster was starting');
          const dead = nodes.filter((n) => !cluster.isRunning(n.name));
          if (dead.length > 0)
            throw new Error(`node ${dead[0].name} exited while starting: see ${join(spec.runDir, 'nodes', dead[0].name, `${dead[0].name}.log`)}`);
          if (await view.ready().catch(() => false)) break;
          if (performance.now() > deadline)
            throw new Error(`the cluster was not ready within ${o.readyTimeoutMs ?? 30_000} ms (see the node logs in ${join(spec.runDir, 'nodes')})`);
          await sleep(100);
        }
        return cluster;
      } catch (e) {
        await cluster.teardown();
        throw e;
      } finally {
        view.close();
      }
    },
  };
}

export type { LocalCluster };
