// A local etcd cluster for tests and benchmarks, without the harness's
// provider: members on 127.A.B.x (a block picked at random where ports 2379
// and 2380 are free), each, when we are root, running as a user of its own
// (uid 47001, 47002, ...; its folder chowned to it), so that owner rules can
// cut them apart. It implements the harness's Cluster (kill, start, pause,
// startFresh with join, partition, heal, teardown) with the deployment's own
// command lines, so the adapter's launch, view and membership fault run as
// they would under a provider. Partitions come from a `LocalNetwork` the
// caller gives (the tests' iptables owner rules: adapters do not import the
// nemesis); without one, partition() throws.
//
// Everything it starts is killed by teardown, and by a process 'exit' hook if
// the caller never gets there.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster, Grudge, NodeInfo } from '../../harness/core/provider.js';
import type { Deployment, Launch } from '../../harness/core/system.js';
import { etcdDeployment } from './index.js';
import { CLIENT_PORT, ETCD_BINARY, PEER_PORT } from './urls.js';

export const BASE_UID = 47001;

export interface LocalEtcdOptions {
  readonly nodes: number;
  /** The adapter's options (--opt), e.g. heartbeat-ms. */
  readonly options?: Readonly<Record<string, string>>;
  /** Run member i as uid (and gid) baseUid + i; default: when we are root. */
  readonly uids?: boolean;
  readonly baseUid?: number;
  /** Where the members' folders go; default a new temporary folder, removed by teardown. */
  readonly dir?: string;
  /** How partitions are cut; none: partition() throws. */
  readonly network?: LocalNetwork;
}

/** Partitions for a LocalEtcd (e.g. iptables owner rules, by each member's uid and address). */
export interface LocalNetwork {
  /** Before the members start (e.g. marking their connections from the first packet). */
  setUp(cluster: LocalEtcd): Promise<void>;
  partition(cluster: LocalEtcd, grudge: Grudge): Promise<void>;
  heal(cluster: LocalEtcd): Promise<void>;
  /** Removes whatever it installed; teardown calls it. */
  tearDown(cluster: LocalEtcd): Promise<void>;
}

const isRoot = () => process.getuid?.() === 0;

async function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.createServer();
    s.once('error', () => res(false));
    s.listen(port, host, () => s.close(() => res(true)));
  });
}

/** A 127.A.B block where every member's ports are free. */
async function pickBlock(count: number): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const block = `127.${100 + Math.floor(Math.random() * 150)}.${1 + Math.floor(Math.random() * 250)}`;
    const hosts = Array.from({ length: count }, (_, i) => `${block}.${i + 2}`);
    const free = await Promise.all(hosts.flatMap((h) => [canListen(h, CLIENT_PORT), canListen(h, PEER_PORT)]));
    if (free.every(Boolean)) return block;
  }
  throw new Error('no free loopback block for etcd after 20 tries');
}

const live = new Set<LocalEtcd>();
let exitHook = false;

export class LocalEtcd implements Cluster {
  readonly nodes: readonly NodeInfo[];
  private readonly procs = new Map<string, ChildProcess>();
  private readonly exited = new Map<string, Promise<void>>();
  private readonly launches = new Map<string, Launch>();
  private torn = false;

  constructor(
    readonly deployment: Deployment,
    block: string,
    readonly dir: string,
    private readonly ownDir: boolean,
    private readonly uids: ReadonlyMap<string, number> | null,
    private readonly network: LocalNetwork | null,
  ) {
    this.nodes = deployment.nodes.map((n, i) => {
      const host = `${block}.${i + 2}`;
      return { name: n.name, role: n.role, host, address: `${host}:${CLIENT_PORT}` };
    });
  }

  private info(node: string): NodeInfo {
    const n = this.nodes.find((x) => x.name === node);
    if (!n) throw new RangeError(`no node ${node}`);
    return n;
  }

  uidOf(node: string): number {
    const uid = this.uids?.get(node);
    if (uid === undefined) throw new Error(`${node} runs as our own user: owner rules need each member under a uid of its own (run as root)`);
    return uid;
  }

  hostOf(node: string): string {
    return this.info(node).host;
  }

  nodeDir(node: string): string {
    return join(this.dir, node);
  }

  dataDir(node: string): string {
    return join(this.dir, node, 'data');
  }

  logPath(node: string): string {
    return join(this.dir, node, 'etcd.log');
  }

  pid(node: string): number | undefined {
    return this.procs.get(node)?.pid;
  }

  private prepare(node: string): void {
    const d = this.nodeDir(node);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    const uid = this.uids?.get(node);
    if (uid !== undefined) chownSync(d, uid, uid);
  }

  private spawnNode(node: string, launch: Launch): Promise<void> {
    if (this.torn) throw new Error('the cluster was torn down');
    this.prepare(node);
    const log = openSync(this.logPath(node), 'a');
    const uid = this.uids?.get(node);
    const [program, ...args] = launch.argv;
    // No ETCD_* of ours: etcd reads its flags from ETCD_ variables too.
    const child = spawn(program!, args, {
      stdio: ['ignore', log, log],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...launch.env },
      ...(uid !== undefined ? { uid, gid: uid } : {}),
    });
    closeSync(log);
    this.procs.set(node, child);
    this.exited.set(node, new Promise((r) => child.once('exit', () => r())));
    child.once('exit', () => {
      if (this.procs.get(node) === child) this.procs.delete(node);
    });
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (e) => reject(new Error(`could not start ${node} (${program}): ${e.message}`)));
    });
  }

  private launchOf(node: string, join: boolean): Launch {
    return this.deployment.launch({ provider: 'local', node: this.info(node), nodes: this.nodes, dataDir: this.dataDir(node), join });
  }

  async start(node: string): Promise<void> {
    if (this.isRunning(node)) throw new Error(`${node} is running`);
    let launch = this.launches.get(node);
    if (!launch) {
      launch = this.launchOf(node, false);
      this.launches.set(node, launch);
    }
    await this.spawnNode(node, launch);
  }

  /** The network's set-up (before any member starts), then every member. */
  async startAll(): Promise<void> {
    await this.network?.setUp(this);
    for (const n of this.nodes) await this.start(n.name);
  }

  async startFresh(node: string, o: { readonly join?: boolean } = {}): Promise<void> {
    if (this.isRunning(node)) throw new Error(`${node} is running: startFresh needs it stopped`);
    rmSync(this.dataDir(node), { recursive: true, force: true });
    const launch = this.launchOf(node, o.join === true);
    this.launches.set(node, launch);
    await this.spawnNode(node, launch);
  }

  async kill(node: string): Promise<void> {
    const child = this.procs.get(node);
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited.get(node);
  }

  async pause(node: string): Promise<void> {
    this.procs.get(node)?.kill('SIGSTOP');
  }

  async resume(node: string): Promise<void> {
    this.procs.get(node)?.kill('SIGCONT');
  }

  async setClockOffset(): Promise<void> {
    throw new Error('clock faults do not reach etcd (a Go program reads the clock through the vDSO, past libfaketime)');
  }

  isRunning(node: string): boolean {
    return this.procs.has(node);
  }

  async partition(grudge: Grudge): Promise<void> {
    if (!this.network) throw new Error('this local etcd cluster was started without a network that can cut it');
    await this.network.partition(this, grudge);
  }

  async heal(): Promise<void> {
    await this.network?.heal(this);
  }

  /** Polls the deployment's view until it says ready; whether it did within `ms`. */
  async waitReady(ms: number): Promise<boolean> {
    const view = this.deployment.view(this.nodes);
    const end = performance.now() + ms;
    try {
      for (;;) {
        if (await view.ready().catch(() => false)) return true;
        if (performance.now() > end) return false;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      view.close();
    }
  }

  /** SIGKILL to every member, now (for the exit hook). */
  killAllNow(): void {
    for (const [node, child] of this.procs) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      this.procs.delete(node);
    }
  }

  async teardown(): Promise<void> {
    if (this.torn) return;
    this.torn = true;
    const waits = [...this.procs.keys()].map((n) => this.exited.get(n));
    this.killAllNow();
    await Promise.all(waits);
    await this.network?.tearDown(this).catch(() => undefined);
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}

/** Starts `nodes` members and waits until they are ready (throws, after cleaning up, if not within `readyMs`). */
export async function startLocalEtcd(o: LocalEtcdOptions, readyMs = 30_000): Promise<LocalEtcd> {
  const deployment = etcdDeployment(o.nodes, o.options ?? {});
  const useUids = o.uids ?? isRoot();
  if (useUids && !isRoot()) throw new Error('members under uids of their own need root');
  const base = o.baseUid ?? BASE_UID;
  const uids = useUids ? new Map(deployment.nodes.map((n, i) => [n.name, base + i])) : null;
  const ownDir = o.dir === undefined;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'undertow-etcd-'));
  mkdirSync(dir, { recursive: true });
  // The members' users must reach their folders.
  chmodSync(dir, 0o755);
  const cluster = new LocalEtcd(deployment, await pickBlock(o.nodes), dir, ownDir, uids, o.network ?? null);
  live.add(cluster);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of live) c.killAllNow();
    });
  }
  try {
    await cluster.startAll();
    if (!(await cluster.waitReady(readyMs))) throw new Error(`etcd did not become ready within ${readyMs} ms (logs: ${dir}/*/etcd.log)`);
    return cluster;
  } catch (e) {
    await cluster.teardown();
    throw e;
  }
}

/** Why local etcd tests cannot run here, or null: the binary must be installed. */
export function etcdMissing(): string | null {
  try {
    accessSync(ETCD_BINARY, constants.X_OK);
    return null;
  } catch {
    return `${ETCD_BINARY} is not installed: apt-get install -y etcd-server etcd-client`;
  }
}
