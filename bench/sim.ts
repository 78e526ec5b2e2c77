// The simulation's speed and the correct build's validity over many seeds:
// `--provider sim` runs of one workload (register unless --workload) with
// every fault kind overlapping (kill, pause, partition, clock, packet without
// rate limits, power, member, corrupt with bit flips only: its tail cuts are
// lost fsynced data, which the reference system does not survive, see the
// README), one seed after another in this process. Prints one line per seed and a table of
// medians: virtual seconds simulated per wall second, seeds per minute, and
// the verdicts (any invalid or unknown seed of the correct build is a false
// alarm to hunt).
//
//   npm run bench:sim -- [SEEDS=50] [TIME_LIMIT=30] [FIRST_SEED=1000] [--bug NAME] [--workload W]

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from '../harness/bench/stats.js';
import { runSimTest } from '../harness/run/run-sim.js';
import { PARTITIONS } from '../nemesis/faults.js';

const args = process.argv.slice(2);
const bugAt = args.indexOf('--bug');
const bugs = bugAt >= 0 ? [args.splice(bugAt, 2)[1]] : [];
const workloadAt = args.indexOf('--workload');
const workload = workloadAt >= 0 ? args.splice(workloadAt, 2)[1] : 'register';
const [seeds = 50, timeLimit = 30, first = 1000] = args.map(Number);
const store = mkdtempSync(join(tmpdir(), 'undertow-bench-sim-'));

const speeds: number[] = [];
const walls: number[] = [];
const verdicts = { valid: 0, invalid: 0, unknown: 0, failed: 0 };
const t0 = performance.now();
for (let seed = first; seed < first + seeds; seed++) {
  const o = await runSimTest(
    {
      name: 'bench-sim',
      system: 'reference',
      systemOptions: {},
      workload,
      provider: 'sim',
      nemesis: ['kill', 'pause', 'partition', 'clock', 'packet', 'power', 'member', 'corrupt'],
      corruptions: ['bitflip'],
      partitions: [...PARTITIONS],
      packet: ['delay', 'loss', 'duplicate', 'reorder'],
      targets: ['random', 'primary', 'leader'],
      nodes: 3,
      concurrency: 10,
      rate: 100,
      timeLimit,
      nemesisInterval: 5,
      nemesisOverlap: true,
      quiet: 5,
      opTimeoutMs: 3000,
      seed,
      bugs,
      keys: 4,
      opsPerKey: 100,
      readFraction: 1 / 3,
      store,
    },
    { quiet: true },
  );
  const verdict = o.failure !== null ? 'failed' : (o.results?.verdict ?? 'failed');
  verdicts[verdict]++;
  speeds.push(o.virtualSeconds / o.wallSeconds);
  walls.push(o.wallSeconds);
  console.log(
    `seed ${seed}: ${verdict} ${o.virtualSeconds.toFixed(1)} virtual s in ${o.wallSeconds.toFixed(2)} s${verdict === 'valid' ? '' : ` ${o.paths.dir}`}`,
  );
}
const minutes = (performance.now() - t0) / 60_000;
console.log(
  `\n| workload | seeds | time limit | bugs | valid | invalid | unknown | failed | virtual s per wall s (median) | wall s per seed (median) | seeds per minute |`,
);
console.log(`|---|---|---|---|---|---|---|---|---|---|---|`);
console.log(
  `| ${workload} | ${seeds} | ${timeLimit} s | ${bugs.join(',') || 'none'} | ${verdicts.valid} | ${verdicts.invalid} | ${verdicts.unknown} | ${verdicts.failed} | ${median(speeds).toFixed(1)} | ${median(walls).toFixed(2)} | ${(seeds / minutes).toFixed(1)} |`,
);
