// npm run bench:sim-bugs [-- --starts 5 --max-seeds 30 --bugs read-without-lease,...]
//
// How long a user waits for `--provider sim` to catch each seeded bug with
// the README's recipe: from each of STARTS first seeds (1, 1001, 2001, ...),
// `undertow test --provider sim` is run one seed after another, as a user
// would from a shell, until a run is invalid (exit 1) or MAX_SEEDS seeds were
// tried. The wall time counts every run up to and including the catch, the
// process start included. No shrinking (`--shrink-budget 0`): the time is to
// the first counterexample.
//
// Prints, per bug: starts caught, seeds to the first catch (median, range)
// and wall seconds to the first catch (median, range).

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../harness/core/project-root.js';
import { median } from '../harness/bench/stats.js';

/** The README's recipes (the "Seeded bugs" table under `--provider sim`), each with --bug. */
const RECIPES: Record<string, string[]> = {
  'read-without-lease': [
    '--nemesis',
    'partition',
    '--partitions',
    'primary-alone',
    '--nemesis-interval',
    '8',
    '--reads',
    '0.9',
    '--groups',
    '1',
    '--op-timeout',
    '1',
  ],
  'short-grace': ['--nemesis', 'partition', '--partitions', 'primary-alone', '--nemesis-interval', '8', '--reads', '0.9', '--groups', '1', '--op-timeout', '1'],
  'wall-clock-lease': [
    ...['--nemesis', 'clock,partition', '--nemesis-overlap', '--partitions', 'primary-alone', '--nemesis-interval', '4'],
    ...['--reads', '0.9', '--groups', '1', '--op-timeout', '1'],
  ],
  'commit-on-majority': ['--nemesis', 'kill,pause,partition', '--nemesis-overlap', '--nemesis-interval', '3', '--groups', '1'],
  'ack-before-fsync': [
    '--workload',
    'set',
    '--nemesis',
    'power',
    '--targets',
    'all,primary',
    '--nemesis-interval',
    '2',
    '--groups',
    '1',
    '--opt',
    'sim-disk-ms=30',
  ],
  'cm-no-version-check': ['--workload', 'version-register', '--nemesis', 'kill,partition,pause', '--nemesis-overlap', '--nemesis-interval', '3'],
  'vote-twice': [
    ...['--workload', 'version-register', '--cm-nodes', '5', '--opt', 'election-ticks=3'],
    ...['--nemesis', 'kill,pause', '--targets', 'leader', '--nemesis-interval', '1'],
  ],
  'no-reconciliation': [
    ...['--nemesis', 'kill,pause,partition', '--nemesis-overlap', '--targets', 'random,primary', '--nemesis-interval', '1'],
    ...['--concurrency', '30', '--opt', 'sim-disk-ms=20'],
  ],
};

const { values } = parseArgs({
  options: {
    starts: { type: 'string', default: '5' },
    'max-seeds': { type: 'string', default: '30' },
    bugs: { type: 'string', default: Object.keys(RECIPES).join(',') },
    'time-limit': { type: 'string', default: '30' },
  },
});
const starts = Number(values.starts);
const maxSeeds = Number(values['max-seeds']);
const bugs = values.bugs.split(',');
for (const b of bugs) {
  if (RECIPES[b] !== undefined) continue;
  console.error(`bench:sim-bugs: --bugs ${b}: no recipe for it; use one of ${Object.keys(RECIPES).join(', ')}`);
  process.exit(254);
}
const cli = join(projectRoot(), 'dist', 'harness', 'cli.js');
const store = mkdtempSync(join(tmpdir(), 'undertow-bench-sim-bugs-'));

interface Row {
  bug: string;
  caught: number;
  seeds: number[];
  walls: number[];
}
const rows: Row[] = [];
for (const bug of bugs) {
  const row: Row = { bug, caught: 0, seeds: [], walls: [] };
  for (let s = 0; s < starts; s++) {
    const first = 1 + s * 1000;
    const t0 = performance.now();
    for (let seed = first; seed < first + maxSeeds; seed++) {
      const args = ['test', '--provider', 'sim', '--bug', bug, ...RECIPES[bug], '--time-limit', values['time-limit'], '--seed', String(seed)];
      const r = spawnSync(process.execPath, [cli, ...args, '--shrink-budget', '0', '--store', store], { encoding: 'utf8' });
      if (r.status === 1) {
        const wall = (performance.now() - t0) / 1000;
        row.caught++;
        row.seeds.push(seed - first + 1);
        row.walls.push(wall);
        console.log(`${bug}: from seed ${first}, caught on seed ${seed} (${seed - first + 1} run${seed === first ? '' : 's'}, ${wall.toFixed(1)} s)`);
        break;
      }
      if (r.status !== 0) console.log(`${bug}: seed ${seed} ended with exit ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}`);
      if (seed === first + maxSeeds - 1) console.log(`${bug}: from seed ${first}, not caught in ${maxSeeds} seeds`);
    }
  }
  rows.push(row);
}

const range = (xs: number[], digits: number) =>
  xs.length === 0 ? '-' : `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
console.log(`\n| bug | starts caught | runs to the first catch, median (range) | wall s to the first catch, median (range) |`);
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.bug} | ${r.caught} / ${starts} | ${range(r.seeds, 0)} | ${range(r.walls, 1)} |`);
