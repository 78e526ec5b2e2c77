// Client CPU per op: etcd's v3 JSON gateway (our client, adapters/etcd/client.ts)
// against the `etcd3` npm package (gRPC), on serializable gets with 16 in
// flight against a local 3-member cluster (the harness's local provider). Also the
// members' CPU per op (/proc/PID/stat), since the gateway costs etcd a
// translation into gRPC, and wall-clock throughput.
//
//   npm run build && node dist/bench/etcd-client.js [--ops 5000] [--etcd3 PATH] [--rounds 2]
//
// `etcd3` is not a dependency of the project: pass the path of its entry
// (e.g. a scratch `npm install etcd3@1.1.2` elsewhere:
// --etcd3 /tmp/x/node_modules/etcd3/lib/index.js); without it only the
// gateway is measured. Needs /usr/bin/etcd (apt-get install etcd-server), and
// root: the local provider runs each member as a user of its own.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { etcdClient } from '../adapters/etcd/client.js';
import { etcdDeployment } from '../adapters/etcd/index.js';
import type { Cluster } from '../harness/core/provider.js';
import type { Invocation } from '../harness/core/generator/types.js';
import { localProvider } from '../harness/providers/local.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const OPS = Number(arg('ops') ?? 5000);
const ROUNDS = Number(arg('rounds') ?? 2);
const IN_FLIGHT = 16;
const WARMUP = 500;

/** utime + stime of a process, in µs. */
function procCpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / 100; // USER_HZ is 100 on Linux
}

/** The members' etcd processes, found by their data dirs under the run's folder. */
function memberPids(cluster: Cluster, runDir: string): number[] {
  const byDir = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      for (const arg of readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')) if (arg.startsWith(runDir)) byDir.set(arg, Number(pid));
    } catch {
      /* gone */
    }
  }
  return cluster.nodes.map((n) => {
    const pid = byDir.get(join(runDir, 'nodes', n.name, 'data'));
    if (pid === undefined) throw new Error(`no etcd process for ${n.name}`);
    return pid;
  });
}

interface Result {
  name: string;
  ops: number;
  clientUsPerOp: number;
  serverUsPerOp: number;
  opsPerS: number;
}

/** Runs `get` OPS times with IN_FLIGHT workers (worker w uses getter w); CPU and time per op. */
async function measure(name: string, pids: readonly number[], getters: readonly (() => Promise<unknown>)[]): Promise<Result> {
  const run = async (n: number) => {
    let next = 0;
    await Promise.all(
      getters.map(async (get) => {
        while (next < n) {
          next++;
          await get();
        }
      }),
    );
  };
  await run(WARMUP);
  const s0 = pids.reduce((a, p) => a + procCpuUs(p), 0);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run(OPS);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const s = pids.reduce((a, p) => a + procCpuUs(p), 0) - s0;
  return { name, ops: OPS, clientUsPerOp: (c.user + c.system) / OPS, serverUsPerOp: s / OPS, opsPerS: (OPS / wall) * 1000 };
}

async function gateway(cluster: Cluster, pids: readonly number[]): Promise<Result> {
  const clients = await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, i) => {
      const c = etcdClient({ workload: 'register', reads: 'serializable', opTimeoutMs: 5000 });
      await c.open(cluster.nodes[i % cluster.nodes.length]!.address);
      return c;
    }),
  );
  const read: Invocation = { f: 'read', key: 'bench', value: null, process: 0, time: 0 };
  try {
    return await measure(
      'gateway (http keep-alive, our client)',
      pids,
      clients.map((c) => async () => {
        // A signal per op, as the harness's workers give.
        const r = await c.invoke(read, new AbortController().signal);
        if (r.type !== 'ok') throw new Error(`read: ${JSON.stringify(r)}`);
      }),
    );
  } finally {
    for (const c of clients) await c.close();
  }
}

interface Etcd3Like {
  get(key: string): { serializable(on: boolean): { string(): Promise<string | null> } };
  close(): void;
}

async function etcd3(cluster: Cluster, pids: readonly number[], path: string, shared: boolean): Promise<Result> {
  const mod = (await import(pathToFileURL(path).href)) as { Etcd3?: new (o: unknown) => Etcd3Like; default?: { Etcd3: new (o: unknown) => Etcd3Like } };
  const Etcd3 = mod.Etcd3 ?? mod.default!.Etcd3;
  const hosts = cluster.nodes.map((n) => `http://${n.address}`);
  const clients = shared ? [new Etcd3({ hosts: hosts[0] })] : Array.from({ length: IN_FLIGHT }, (_, i) => new Etcd3({ hosts: hosts[i % hosts.length] }));
  try {
    const getters = Array.from({ length: IN_FLIGHT }, (_, i) => async () => {
      const v = await clients[i % clients.length]!.get('register/bench').serializable(true).string();
      if (v !== '1') throw new Error(`etcd3 read ${v}`);
    });
    return await measure(shared ? 'etcd3 (gRPC), one client for all 16' : 'etcd3 (gRPC), a client per worker', pids, getters);
  } finally {
    for (const c of clients) c.close();
  }
}

async function main(): Promise<void> {
  const etcd3Path = arg('etcd3');
  const runDir = mkdtempSync(join(tmpdir(), 'undertow-bench-etcd-'));
  const cluster = await localProvider().up({ deployment: etcdDeployment(3), runDir, runId: `bench${process.pid.toString(36)}` });
  try {
    const pids = memberPids(cluster, runDir);
    const w = etcdClient({ workload: 'register', reads: 'linearizable', opTimeoutMs: 5000 });
    await w.open(cluster.nodes[0]!.address);
    const r = await w.invoke({ f: 'write', key: 'bench', value: 1, process: 0, time: 0 }, new AbortController().signal);
    await w.close();
    if (r.type !== 'ok') throw new Error(`seed write: ${JSON.stringify(r)}`);
    await new Promise((x) => setTimeout(x, 500)); // every member applies it (the reads are serializable)
    const results: Result[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      results.push(await gateway(cluster, pids));
      if (etcd3Path) {
        results.push(await etcd3(cluster, pids, etcd3Path, false));
        results.push(await etcd3(cluster, pids, etcd3Path, true));
      }
    }
    console.log(`${OPS} serializable gets, ${IN_FLIGHT} in flight, 3 members on loopback (node ${process.version})`);
    for (const x of results) {
      console.log(
        `${x.name.padEnd(40)} client ${x.clientUsPerOp.toFixed(1).padStart(6)} µs/op  etcd ${x.serverUsPerOp.toFixed(1).padStart(6)} µs/op  ${Math.round(x.opsPerS).toString().padStart(6)} ops/s`,
      );
    }
  } finally {
    await cluster.teardown();
    rmSync(runDir, { recursive: true, force: true });
  }
}

await main();
