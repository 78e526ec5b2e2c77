// A CM cluster of real `undertow-node cm` OS processes on 127.0.0.1, for the
// end-to-end tests and the benchmark: free ports, one data directory per node
// in a fresh temp directory, kill -9 and restart from the same directory.
// It only starts the program and talks to it through the client library; the
// program itself is given as a command line (the built JS, or the TS source
// through vite-node), so this module does not care how it was built.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CmClient, type CmClientOptions, type StatusResponse } from './client.js';

/** `n` ports that were free on 127.0.0.1 a moment ago. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Poll `f` every `everyMs` until it returns a value; throw after `ms`. */
export async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms: number, everyMs = 25): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** kill -9 `p`; resolves once it has exited (so its port and files are free). */
export async function killAndWait(p: ChildProcess): Promise<void> {
  const exited = p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGKILL');
  await exited;
}

export interface LocalCmClusterOptions {
  /** Node ids, e.g. n1..n5. */
  readonly ids: readonly string[];
  /** The founding voters (default: all of `ids`); the others start with --join. */
  readonly founders?: readonly string[];
  /** How to run `undertow-node`, e.g. [process.execPath, 'dist/system-under-test/bin/undertow-node.js']. */
  readonly program: readonly string[];
  /** Extra `cm` flags for every node, e.g. ['--tick-ms', '20']. */
  readonly args?: readonly string[];
  readonly cwd?: string;
  /** Keep each node's log lines in memory (`out`), or append them to ROOT/ID.log (for long runs). */
  readonly logs?: 'memory' | 'file';
}

/** The cluster's processes and files; `close()` (or `closeSync()`) kills every node and removes the temp dir. */
export class LocalCmCluster {
  readonly procs = new Map<string, ChildProcess>();
  /** Log lines per node (logs: 'memory'). */
  readonly out = new Map<string, string[]>();
  readonly addr: Record<string, string>;
  readonly root: string;
  readonly founders: readonly string[];
  private readonly clients: CmClient[] = [];

  private constructor(
    readonly o: LocalCmClusterOptions,
    ports: number[],
  ) {
    this.founders = o.founders ?? o.ids;
    this.addr = Object.fromEntries(o.ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-cm-'));
  }

  static async create(o: LocalCmClusterOptions): Promise<LocalCmCluster> {
    return new LocalCmCluster(o, await freePorts(o.ids.length));
  }

  get ids(): readonly string[] {
    return this.o.ids;
  }

  dataDir(id: string): string {
    return path.join(this.root, id);
  }

  /** Start node `id` (again, from its data directory if it ran before). */
  start(id: string, join = !this.founders.includes(id)): ChildProcess {
    if (this.procs.has(id)) throw new Error(`${id} is already running`);
    const peers = this.founders.map((f) => `${f}=${this.addr[f]}`).join(',');
    const args = [
      ...this.o.program.slice(1),
      'cm',
      '--id',
      id,
      '--listen',
      this.addr[id],
      '--peers',
      peers,
      '--data',
      this.dataDir(id),
      ...(this.o.args ?? []),
    ];
    if (join) args.push('--join');
    let p: ChildProcess;
    if (this.o.logs === 'file') {
      const fd = fs.openSync(path.join(this.root, `${id}.log`), 'a');
      p = spawn(this.o.program[0], args, { cwd: this.o.cwd, stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
    } else {
      p = spawn(this.o.program[0], args, { cwd: this.o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      const lines = this.out.get(id) ?? [];
      this.out.set(id, lines);
      p.stdout!.on('data', (d: Buffer) =>
        lines.push(
          ...String(d)
            .split('\n')
            .filter((l) => l !== ''),
        ),
      );
      p.stderr!.on('data', (d: Buffer) => lines.push(`stderr: ${String(d)}`));
    }
    p.on('error', () => undefined);
    this.procs.set(id, p);
    return p;
  }

  /** kill -9 node `id`; resolves once the process has exited (so its port and files are free). */
  async kill(id: string): Promise<void> {
    const p = this.procs.get(id);
    this.procs.delete(id);
    if (p !== undefined) await killAndWait(p);
  }

  /** The last lines a node logged (for error messages). */
  tail(id: string, n = 20): string[] {
    if (this.o.logs === 'file') {
      try {
        return fs
          .readFileSync(path.join(this.root, `${id}.log`), 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .slice(-n);
      } catch {
        return [];
      }
    }
    return (this.out.get(id) ?? []).slice(-n);
  }

  /** A client of the given nodes (default all); closed with the cluster. */
  client(ids: readonly string[] = this.o.ids, opts: CmClientOptions = { timeoutMs: 4000, attemptMs: 1000 }): CmClient {
    const c = new CmClient(
      ids.map((id) => this.addr[id]),
      opts,
    );
    this.clients.push(c);
    return c;
  }

  /** One node's status, or undefined if it does not answer within `ms`. */
  async status(id: string, ms = 300): Promise<StatusResponse | undefined> {
    const c = new CmClient([this.addr[id]], { timeoutMs: ms, attemptMs: ms });
    try {
      const st = await c.request({ op: 'status' });
      return st.ok ? (st as unknown as StatusResponse) : undefined;
    } finally {
      c.close();
    }
  }

  /** The id of a running node that says it is leader, asking every running node. */
  async leader(): Promise<string | undefined> {
    for (const id of this.procs.keys()) {
      const st = await this.status(id);
      if (st?.role === 'leader') return id;
    }
    return undefined;
  }

  /** Kill every node (kill -9), close the clients, remove the temp dir. Safe to call twice, and from an exit handler. */
  closeSync(): void {
    for (const c of this.clients.splice(0)) c.close();
    for (const p of this.procs.values()) p.kill('SIGKILL');
    this.procs.clear();
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  /** closeSync, but waits for the processes to exit first. */
  async close(): Promise<void> {
    for (const c of this.clients.splice(0)) c.close();
    await Promise.all([...this.procs.keys()].map((id) => this.kill(id)));
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
