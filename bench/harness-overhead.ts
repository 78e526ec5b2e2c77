// The harness's overhead on a real run: the same register ops against the
// same local cluster (3 CM + 3 data servers, fsync on), from bare client
// loops, through `undertow bench`'s closed loop (harness/bench/loop.ts: the
// adapter's client, a timeout and two histogram adds per op), and through
// `undertow test`'s worker pool (generator, timeouts, recorder appending
// history.jsonl), in alternation. Throughput, latency and the harness
// process's CPU time per op, so the difference is what each path costs.
//
// Run: npm run build && node dist/bench/harness-overhead.js [seconds] [runs]

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantilesOf } from '../checkers/latency.js';
import { median } from '../harness/bench/stats.js';
import { clients, timeLimit } from '../harness/core/generator/index.js';
import { localProvider } from '../harness/providers/local.js';
import { Recorder } from '../harness/core/recorder.js';
import { runWorkers } from '../harness/run/workers.js';
import { measurePoint } from '../harness/bench/loop.js';
import { mergeHistograms, quantileMs } from '../checkers/latency.js';
import { invokerFor } from '../adapters/reference/client.js';
import { referenceDeployment } from '../adapters/reference/index.js';
import { KvClient } from '../system-under-test/client/index.js';
import { register } from '../workloads/index.js';

const SECONDS = Number(process.argv[2] ?? 10);
const RUNS = Number(process.argv[3] ?? 3);
const CONCURRENCY = 10;

interface Sample {
  opsPerSec: number;
  p50: number;
  p99: number;
  cpuUsPerOp: number;
}

// Many keys and a long window: the point is the client path, not contention.
const params = { keys: 100, opsPerKey: 1_000_000, rate: 1e9 };

const deployment = referenceDeployment({ cm: 3, data: 3, groups: 3, replication: 3 });

async function bare(cm: readonly string[]): Promise<Sample> {
  const invoke = invokerFor('register', {});
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, p) => {
      const kv = new KvClient({ cm, configLeaseMs: 5000 });
      const signal = new AbortController().signal;
      for (let i = 0; performance.now() < end; i++) {
        const key = `r${(p * 7919 + i * 31) % params.keys}`;
        const f = ['read', 'write', 'cas'][i % 3];
        const op = { f, key, value: f === 'cas' ? [i % 5, (i + 1) % 5] : f === 'write' ? i % 5 : null, process: p, time: 0 };
        const t = performance.now();
        await invoke(kv, op as never, signal);
        latencies.push(performance.now() - t);
        n++;
      }
      await kv.close();
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const [p50, p99] = quantilesOf(latencies, [0.5, 0.99]);
  return { opsPerSec: n / SECONDS, p50, p99, cpuUsPerOp: (cpu.user + cpu.system) / n };
}

/** The same ops through `undertow bench`'s closed loop, with the adapter's client as `undertow bench` builds it. */
async function benchLoop(nodes: Parameters<typeof deployment.client>[1]['nodes']): Promise<Sample> {
  let i = 0;
  const m = await measurePoint({
    mode: { kind: 'closed', concurrency: CONCURRENCY },
    warmupS: 0,
    durationS: SECONDS,
    newClient: () => deployment.client('register', { nodes, opTimeoutMs: 3000, workloadOptions: {} }),
    nodes: deployment.clientNodes(nodes),
    nextOp: () => {
      const n = i++;
      const f = ['read', 'write', 'cas'][n % 3];
      return { f, key: `r${(n * 31) % params.keys}`, value: f === 'cas' ? [n % 5, (n + 1) % 5] : f === 'write' ? n % 5 : null };
    },
    opTimeoutMs: 3000,
  });
  const h = mergeHistograms([...m.byF.values()].map((x) => x.latency));
  return { opsPerSec: (m.ok + m.fail + m.info) / SECONDS, p50: quantileMs(h, 0.5), p99: quantileMs(h, 0.99), cpuUsPerOp: m.harnessCpuUsPerOp };
}

async function harness(nodes: Parameters<typeof deployment.client>[1]['nodes']): Promise<Sample> {
  const w = register.make(params);
  const cm = deployment.clientNodes(nodes);
  const dir = mkdtempSync(join(tmpdir(), 'undertow-overhead-'));
  const recorder = new Recorder({ dir });
  const cpu0 = process.cpuUsage();
  const summary = await runWorkers({
    generator: clients(timeLimit(SECONDS * 1e9, w.generator)),
    concurrency: CONCURRENCY,
    seed: 1,
    nodes: cm,
    newClient: () => deployment.client('register', { nodes, opTimeoutMs: 3000, workloadOptions: w.options }),
    recorder,
    opTimeoutMs: 3000,
  });
  const cpu = process.cpuUsage(cpu0);
  recorder.close();
  const invoked = new Map<number, number>();
  const latencies: number[] = [];
  for (const op of recorder.history) {
    if (op.type === 'invoke') invoked.set(op.process as number, op.time);
    else latencies.push((op.time - invoked.get(op.process as number)!) / 1e6);
  }
  rmSync(dir, { recursive: true, force: true });
  const n = summary.ok + summary.fail + summary.info;
  const [p50, p99] = quantilesOf(latencies, [0.5, 0.99]);
  return { opsPerSec: n / SECONDS, p50, p99, cpuUsPerOp: (cpu.user + cpu.system) / n };
}

async function main() {
  const runDir = mkdtempSync(join(tmpdir(), 'undertow-overhead-cluster-'));
  mkdirSync(join(runDir, 'nodes'), { recursive: true });
  const provider = localProvider();
  await provider.cleanupLeftovers();
  const cluster = await provider.up({ deployment, runDir, runId: `ovh${process.pid}` });
  const cm = deployment.clientNodes(cluster.nodes);
  const results: Record<string, Sample[]> = { bare: [], bench: [], harness: [] };
  try {
    await bare(cm); // warm-up
    for (let r = 0; r < RUNS; r++) {
      results.bare.push(await bare(cm));
      results.bench.push(await benchLoop(cluster.nodes));
      results.harness.push(await harness(cluster.nodes));
    }
  } finally {
    await cluster.teardown();
    rmSync(runDir, { recursive: true, force: true });
  }
  const row = (name: string, s: Sample[]) =>
    `| ${name.padEnd(24)} | ${median(s.map((x) => x.opsPerSec))
      .toFixed(0)
      .padStart(6)} | ${median(s.map((x) => x.p50))
      .toFixed(2)
      .padStart(6)} | ${median(s.map((x) => x.p99))
      .toFixed(2)
      .padStart(
        6,
      )} | ${`${median(s.map((x) => x.cpuUsPerOp)).toFixed(0)} (${Math.min(...s.map((x) => x.cpuUsPerOp)).toFixed(0)}-${Math.max(...s.map((x) => x.cpuUsPerOp)).toFixed(0)})`.padStart(14)} |`;
  console.log(`\nregister ops against 3 CM + 3 data servers (local, fsync), concurrency ${CONCURRENCY}, ${SECONDS} s, median of ${RUNS}\n`);
  console.log('| client path              |  ops/s | p50 ms | p99 ms | CPU µs/op (range) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  console.log(row('bare client loops', results.bare));
  console.log(row('undertow bench loop', results.bench));
  console.log(row('undertow test workers', results.harness));
  const ratios = results.bench.map((x, i) => x.cpuUsPerOp / results.bare[i].cpuUsPerOp);
  console.log(`\nbench loop CPU per op / bare, run by run: ${ratios.map((x) => x.toFixed(2)).join(', ')} (target <= 1.5; median ${median(ratios).toFixed(2)})`);
  const b = median(results.bare.map((x) => x.opsPerSec));
  const h = median(results.harness.map((x) => x.opsPerSec));
  console.log(
    `\nthroughput overhead: ${(((b - h) / b) * 100).toFixed(1)}%; harness CPU per op: ${(median(results.harness.map((x) => x.cpuUsPerOp)) - median(results.bare.map((x) => x.cpuUsPerOp))).toFixed(0)} µs`,
  );
}

await main();
