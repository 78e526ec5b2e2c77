// npm run bench:systems [-- --seconds 15 --rounds 3 --clients 32 --keys 1000 --systems reference,etcd]
//
// The same workload through the harness's client path (the adapters'
// clients under the worker pool and the recorder) against each system the
// harness can start, side by side in one run: 3 nodes each on local
// processes (the reference system: 3 CM nodes and 3 data servers,
// replication 3, 3 groups; etcd: 3 members), fsync on (both systems'
// default), CLIENTS concurrent processes in a closed loop, 50/50 reads and
// writes of keys drawn uniformly from KEYS. The systems alternate round by
// round (A B A B ...) so a slow spell of the machine hits both; each round
// starts a fresh cluster, warms up for 2 s, then measures SECONDS.
//
// Per system: ops/s, latency quantiles (HDR, checkers/latency.ts), cluster
// CPU per op (the node processes' user + system time, from /proc) and client
// CPU per op (this process: clients, worker pool, recorder). Medians over the
// rounds, with the range.
//
// It stays for what `undertow bench --system S` does not do: several systems
// in one run, alternating round by round on fresh clusters, through the
// test's worker pool and recorder (the path `undertow test` runs), where
// `undertow bench` measures one system through its own lean loop.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { quantilesOf } from '../checkers/latency.js';
import { median } from '../harness/bench/stats.js';
import { fromFn, clients, timeLimit } from '../harness/core/generator/index.js';
import { Recorder } from '../harness/core/recorder.js';
import { localProvider } from '../harness/providers/local.js';
import { deploySystem } from '../harness/run/deploy.js';
import { runWorkers } from '../harness/run/workers.js';

interface Row {
  opsPerSec: number;
  p50: number;
  p99: number;
  p999: number;
  clusterUsPerOp: number;
  clientUsPerOp: number;
  errors: number;
}

/** CPU seconds (user + system) of every process whose command line names `runDir` (the cluster's nodes). */
function clusterCpuSeconds(runDir: string): number {
  let total = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (!fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(runDir)) continue;
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      /* gone */
    }
  }
  return total;
}

const SETTINGS: Record<string, { nodes: number; options: Record<string, string> }> = {
  reference: { nodes: 3, options: { 'cm-nodes': '3', groups: '3', replication: '3' } },
  etcd: { nodes: 3, options: {} },
};

async function round(system: string, o: { seconds: number; clients: number; keys: number }, dir: string, n: number): Promise<Row> {
  const s = SETTINGS[system] ?? { nodes: 3, options: {} };
  const { deployment } = deploySystem({ system, nodes: s.nodes, options: s.options, bugs: [], workload: 'register', faults: [] });
  const runDir = path.join(dir, `${system}-${n}`);
  fs.mkdirSync(runDir, { recursive: true });
  const provider = localProvider();
  await provider.cleanupLeftovers();
  const cluster = await provider.up({ deployment, runDir, runId: `bs${process.pid.toString(36)}${n}` });
  try {
    const ops = fromFn((ctx) => {
      const key = `k${ctx.random.int(o.keys)}`;
      return ctx.random.float() < 0.5 ? { f: 'read', key } : { f: 'write', key, value: ctx.random.int(1000) };
    });
    const run = async (seconds: number) => {
      const recorder = new Recorder({ dir: fs.mkdtempSync(path.join(runDir, 'h-')) });
      const cpu0 = process.cpuUsage();
      const cluster0 = clusterCpuSeconds(runDir);
      const t0 = performance.now();
      const summary = await runWorkers({
        generator: clients(timeLimit(seconds * 1e9, ops)),
        concurrency: o.clients,
        seed: n,
        nodes: deployment.clientNodes(cluster.nodes),
        newClient: () => deployment.client('register', { nodes: cluster.nodes, opTimeoutMs: 5000, workloadOptions: {} }),
        recorder,
        opTimeoutMs: 5000,
      });
      const wall = (performance.now() - t0) / 1000;
      const clusterCpu = clusterCpuSeconds(runDir) - cluster0;
      const cpu = process.cpuUsage(cpu0);
      recorder.close();
      const invoked = new Map<unknown, number>();
      const lat: number[] = [];
      for (const op of recorder.history) {
        if (op.type === 'invoke') invoked.set(op.process, op.time);
        else if (op.type === 'ok') lat.push((op.time - invoked.get(op.process)!) / 1e6);
      }
      const [p50, p99, p999] = quantilesOf(lat, [0.5, 0.99, 0.999]);
      return {
        opsPerSec: summary.ok / wall,
        p50,
        p99,
        p999,
        clusterUsPerOp: (clusterCpu * 1e6) / Math.max(1, summary.ok),
        clientUsPerOp: (cpu.user + cpu.system) / Math.max(1, summary.ok),
        errors: summary.fail + summary.info,
      };
    };
    await run(2); // warm-up
    return await run(o.seconds);
  } finally {
    await cluster.teardown();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '15' },
      rounds: { type: 'string', default: '3' },
      clients: { type: 'string', default: '32' },
      keys: { type: 'string', default: '1000' },
      systems: { type: 'string', default: 'reference,etcd' },
    },
  });
  const o = { seconds: Number(values.seconds), clients: Number(values.clients), keys: Number(values.keys) };
  const systems = values.systems!.split(',');
  const rounds = Number(values.rounds);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-bench-systems-'));
  const rows: Record<string, Row[]> = Object.fromEntries(systems.map((s) => [s, []]));
  console.log(
    `bench:systems: ${systems.join(' vs ')}, 3 nodes each (local processes, fsync on), ${o.clients} clients, ${o.keys} keys, 50/50 reads and writes, ${o.seconds} s x ${rounds} rounds, alternating`,
  );
  console.log(
    `machine: ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );
  const stop = () => {
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.on('SIGINT', stop);
  try {
    for (let r = 0; r < rounds; r++) {
      for (const system of r % 2 === 0 ? systems : [...systems].reverse()) {
        const row = await round(system, o, dir, r);
        rows[system].push(row);
        console.log(
          `round ${r + 1} ${system.padEnd(10)} ${row.opsPerSec.toFixed(0).padStart(6)} ops/s  p50 ${row.p50.toFixed(2)} ms  p99 ${row.p99.toFixed(2)} ms  cluster ${row.clusterUsPerOp.toFixed(0)} µs/op  client ${row.clientUsPerOp.toFixed(0)} µs/op  not ok ${row.errors}`,
        );
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const cell = (xs: number[], digits: number) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
  console.log('\n| system | ops/s | p50 ms | p99 ms | p999 ms | cluster CPU µs/op | client CPU µs/op |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const s of systems) {
    const r = rows[s];
    console.log(
      `| ${s} | ${cell(
        r.map((x) => x.opsPerSec),
        0,
      )} | ${cell(
        r.map((x) => x.p50),
        2,
      )} | ${cell(
        r.map((x) => x.p99),
        2,
      )} | ${cell(
        r.map((x) => x.p999),
        2,
      )} | ${cell(
        r.map((x) => x.clusterUsPerOp),
        0,
      )} | ${cell(
        r.map((x) => x.clientUsPerOp),
        0,
      )} |`,
    );
  }
  console.log('\nmedian (min-max) over the rounds');
}

await main();
