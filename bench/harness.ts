// The harness's own ceiling: how many ops per second the generator, the
// worker pool and the recorder (appending each event to history.jsonl with a
// write(2) of its own) get through against a client that does nothing. Any
// real system is slower than this; if it is not, the harness is the
// bottleneck. The "in memory" column is the same run without the files, to
// show what the per-event write costs.
//
// Run: npm run build && node dist/bench/harness.js
// Each cell: median of RUNS runs of SECONDS each, after one warm-up run.

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clients, fromFn, mix, timeLimit } from '../harness/core/generator/index.js';
import { HISTORY_FILE, Recorder } from '../harness/core/recorder.js';
import type { Client } from '../harness/core/client.js';
import { runWorkers } from '../harness/run/workers.js';
import { median } from '../harness/bench/stats.js';

const SECONDS = 2;
const RUNS = 3;
const CONCURRENCIES = [1, 10, 100];

const noopClient = (): Client => ({
  open: async () => {},
  invoke: async (op) => ({ type: 'ok', value: op.f === 'read' ? 0 : op.value }),
  close: async () => {},
});

// A register workload's shape: random keys, values and functions, so the
// generator does the work it does in a real test.
const workload = () =>
  mix([
    fromFn((ctx) => ({ f: 'read', key: ctx.random.int(100) })),
    fromFn((ctx) => ({ f: 'write', key: ctx.random.int(100), value: ctx.random.int(1000) })),
    fromFn((ctx) => ({ f: 'cas', key: ctx.random.int(100), value: [ctx.random.int(1000), ctx.random.int(1000)] })),
  ]);

interface Run {
  opsPerSec: number;
  bytesPerOp: number;
}

async function run(concurrency: number, toDisk: boolean): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'undertow-bench-'));
  const recorder = new Recorder(toDisk ? { dir } : {});
  const started = process.hrtime.bigint();
  const summary = await runWorkers({
    generator: clients(timeLimit(SECONDS * 1e9, workload())),
    concurrency,
    seed: 1,
    nodes: ['n1'],
    newClient: noopClient,
    recorder,
    opTimeoutMs: 10_000,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  recorder.close();
  const ops = summary.ok + summary.fail + summary.info;
  const bytes = toDisk ? statSync(join(dir, HISTORY_FILE)).size : 0;
  rmSync(dir, { recursive: true, force: true });
  return { opsPerSec: ops / seconds, bytesPerOp: bytes / ops };
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

async function main(): Promise<void> {
  process.stdout.write(`harness ceiling: no-op client, ${SECONDS} s per run, median of ${RUNS} (node ${process.version})\n\n`);
  await run(10, true); // warm-up: let the JIT compile the hot paths
  const header = ['concurrency', 'ops/s (history.jsonl)', 'min', 'max', 'ops/s (in memory)', 'bytes/op'];
  const rows: string[][] = [];
  for (const concurrency of CONCURRENCIES) {
    const disk: Run[] = [];
    const memory: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      disk.push(await run(concurrency, true));
      memory.push(await run(concurrency, false));
    }
    const rates = disk.map((r) => r.opsPerSec);
    rows.push([
      String(concurrency),
      fmt(median(rates)),
      fmt(Math.min(...rates)),
      fmt(Math.max(...rates)),
      fmt(median(memory.map((r) => r.opsPerSec))),
      median(disk.map((r) => r.bytesPerOp)).toFixed(0),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  process.stdout.write(`${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write('\nAn op is one invocation and its completion: two history events.\n');
}

await main();
