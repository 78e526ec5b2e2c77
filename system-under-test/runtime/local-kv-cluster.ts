// A whole key-value cluster of real OS processes on 127.0.0.1, for the
// end-to-end tests and the benchmark: a CM cluster (LocalCmCluster) plus data
// servers (`undertow-node data`), on free ports, each with its own data
// directory under one temp directory and its log in ROOT/ID.log. kill -9 and
// restart reuse the same directory. Like LocalCmCluster it only starts the
// program (given as a command line) and talks to it through the client libraries.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KvClient, type KvClientOptions } from '../client/index.js';
import type { GroupConfig } from '../cm/state.js';
import { CmClient, type CmResponse, type GetResponse } from './client.js';
import { LocalCmCluster, freePorts, killAndWait } from './local-cluster.js';

export interface LocalKvClusterOptions {
  /** How to run `undertow-node` (see LocalCmClusterOptions.program). */
  readonly program: readonly string[];
  readonly cwd?: string;
  readonly cmIds?: readonly string[];
  readonly dataIds?: readonly string[];
  readonly groups?: number;
  readonly replication?: number;
  /** Extra `cm` flags (default: a 20 ms tick). */
  readonly cmArgs?: readonly string[];
  /** Extra `data` flags for every data server, e.g. ['--lease-ms', '500']. */
  readonly dataArgs?: readonly string[];
}

export class LocalKvCluster {
  readonly procs = new Map<string, ChildProcess>();
  readonly addr: Record<string, string>;
  readonly dataIds: readonly string[];
  private readonly clients: KvClient[] = [];

  private constructor(
    readonly o: LocalKvClusterOptions,
    readonly cm: LocalCmCluster,
    ports: number[],
  ) {
    this.dataIds = o.dataIds ?? ['d1', 'd2', 'd3'];
    this.addr = Object.fromEntries(this.dataIds.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
  }

  /** Start the CM processes and the data servers; resolves once every group has a configuration. */
  static async start(o: LocalKvClusterOptions): Promise<LocalKvCluster> {
    const cm = await LocalCmCluster.create({
      ids: o.cmIds ?? ['n1', 'n2', 'n3'],
      program: o.program,
      cwd: o.cwd,
      args: o.cmArgs ?? ['--tick-ms', '20'],
      logs: 'file',
    });
    let c: LocalKvCluster;
    try {
      c = new LocalKvCluster(o, cm, await freePorts((o.dataIds ?? ['d1', 'd2', 'd3']).length));
      for (const id of cm.ids) cm.start(id);
      for (const id of c.dataIds) c.startData(id);
    } catch (e) {
      cm.closeSync();
      throw e;
    }
    return c;
  }

  get root(): string {
    return this.cm.root;
  }

  get cmAddresses(): string[] {
    return this.cm.ids.map((id) => this.cm.addr[id]);
  }

  dataDir(id: string): string {
    return path.join(this.root, id);
  }

  logFile(id: string): string {
    return path.join(this.root, `${id}.log`);
  }

  /** Start data server `id` (again, from its data directory if it ran before). */
  startData(id: string, extra: readonly string[] = []): ChildProcess {
    if (this.procs.has(id)) throw new Error(`${id} is already running`);
    const args = [
      ...this.o.program.slice(1),
      'data',
      '--id',
      id,
      '--listen',
      this.addr[id],
      '--cm',
      this.cmAddresses.join(','),
      '--data',
      this.dataDir(id),
      '--servers',
      this.dataIds.join(','),
      '--groups',
      String(this.o.groups ?? 3),
      '--replication',
      String(this.o.replication ?? 3),
      ...(this.o.dataArgs ?? []),
      ...extra,
    ];
    const fd = fs.openSync(this.logFile(id), 'a');
    const p = spawn(this.o.program[0], args, { cwd: this.o.cwd, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    p.on('error', () => undefined);
    this.procs.set(id, p);
    return p;
  }

  /** kill -9 data server `id`; resolves once it has exited. */
  async killData(id: string): Promise<void> {
    const p = this.procs.get(id);
    this.procs.delete(id);
    if (p !== undefined) await killAndWait(p);
  }

  /** The last lines a node (data server or CM) logged. */
  tail(id: string, n = 30): string[] {
    try {
      return fs
        .readFileSync(this.logFile(id), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .slice(-n);
    } catch {
      return [];
    }
  }

  /** The groups' configurations as the CM holds them (undefined if it does not answer). */
  async groups(): Promise<Record<string, GroupConfig> | undefined> {
    const c = new CmClient(this.cmAddresses, { timeoutMs: 1000, attemptMs: 500 });
    let r: CmResponse;
    try {
      r = await c.request({ op: 'get' });
    } finally {
      c.close();
    }
    return r.ok ? (r as unknown as GetResponse).groups : undefined;
  }

  /** A client of this cluster; closed with it. */
  client(o: Partial<KvClientOptions> = {}): KvClient {
    const c = new KvClient({ cm: this.cmAddresses, ...o });
    this.clients.push(c);
    return c;
  }

  /** Kill every process (kill -9), close the clients, remove the temp dir. Safe to call twice. */
  closeSync(): void {
    for (const c of this.clients.splice(0)) void c.close();
    for (const p of this.procs.values()) p.kill('SIGKILL');
    this.procs.clear();
    this.cm.closeSync();
  }

  async close(): Promise<void> {
    for (const c of this.clients.splice(0)) await c.close();
    await Promise.all([...this.procs.keys()].map((id) => this.killData(id)));
    await this.cm.close();
  }
}
