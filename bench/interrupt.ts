// npm run bench:interrupt [-- --runs 100 --providers local,docker --seed 1]
//
// Nothing left behind, measured: RUNS runs of `undertow test` (register,
// partition and kill faults) interrupted at a random moment, split evenly over
// the providers and over SIGINT (Ctrl-C: the harness tears down itself) and
// SIGKILL (it cannot: its reaper does). The moment is drawn from 0.3-12 s
// after the start, so some land while the cluster is starting (or the Docker
// image is looked up) and most during the workload. After each, the run's
// leftovers (node processes, iptables chains, containers, networks) are
// polled until none remain, for at most 10 s; the history recorded so far
// must be on disk whenever the run had begun recording.
//
// Prints, per provider and signal: runs, runs clean within 10 s, the median
// and slowest time to clean, runs with a history on disk, and its ops.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Random } from '../harness/core/generator/random.js';
import { projectRoot } from '../harness/core/project-root.js';
import { leftoversOf, nothingLeft } from '../harness/run/leftovers.js';
import { median } from '../harness/bench/stats.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '100' }, providers: { type: 'string', default: 'local,docker' }, seed: { type: 'string', default: '1' } },
});
const runs = Number(values.runs);
const providers = values.providers.split(',');
const random = Random.seeded(Number(values.seed));
const cli = join(projectRoot(), 'dist', 'harness', 'cli.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outcome {
  provider: string;
  signal: 'SIGINT' | 'SIGKILL';
  atMs: number;
  cleanMs: number | null;
  recorded: boolean;
  historyOps: number;
  left: string;
}

async function once(provider: string, signal: 'SIGINT' | 'SIGKILL', atMs: number): Promise<Outcome> {
  const store = mkdtempSync(join(tmpdir(), 'undertow-interrupt-'));
  const args = [
    'test',
    '--store',
    store,
    '--provider',
    provider,
    '--time-limit',
    '30',
    '--nemesis',
    'partition,kill',
    '--nemesis-interval',
    '1',
    '--rate',
    '100',
  ];
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, CI: 'true' }, stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  await sleep(atMs);
  child.kill(signal);
  // Ctrl-C: the harness tears down and exits on its own (a second Ctrl-C would quit at once).
  await Promise.race([exited, sleep(signal === 'SIGINT' ? 60_000 : 5_000)]);
  const t0 = performance.now();
  const latest = join(store, 'latest');
  const runDir = existsSync(latest) ? realpathSync(latest) : null;
  let cleanMs: number | null = null;
  let left = '';
  if (runDir === null || !existsSync(join(runDir, 'test.json'))) cleanMs = 0;
  else {
    for (;;) {
      const l = await leftoversOf(runDir);
      if (nothingLeft(l)) {
        cleanMs = performance.now() - t0;
        break;
      }
      if (performance.now() - t0 > 10_000) {
        left = JSON.stringify(l);
        break;
      }
      await sleep(100);
    }
  }
  const history = runDir === null ? null : join(runDir, 'history.jsonl');
  const recorded = history !== null && existsSync(history);
  const historyOps = recorded ? readFileSync(history, 'utf8').split('\n').filter(Boolean).length : 0;
  if (cleanMs !== null) rmSync(store, { recursive: true, force: true });
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  return { provider, signal, atMs, cleanMs, recorded, historyOps, left };
}

const outcomes: Outcome[] = [];
for (let i = 0; i < runs; i++) {
  const provider = providers[i % providers.length];
  const signal = Math.floor(i / providers.length) % 2 === 0 ? 'SIGKILL' : 'SIGINT';
  const atMs = Math.round(300 + random.float() * 11_700);
  const o = await once(provider, signal, atMs);
  outcomes.push(o);
  process.stderr.write(
    `${i + 1}/${runs} ${provider} ${signal} at ${atMs} ms: ${o.cleanMs === null ? `LEFT ${o.left}` : `clean in ${Math.round(o.cleanMs)} ms`}, history ${o.recorded ? `${o.historyOps} lines` : 'none'}\n`,
  );
}

console.log('| provider | signal | runs | clean within 10 s | median time to clean | slowest | history on disk | median history lines |');
console.log('|---|---|---|---|---|---|---|---|');
for (const provider of providers) {
  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    const os = outcomes.filter((o) => o.provider === provider && o.signal === signal);
    if (os.length === 0) continue;
    const clean = os.filter((o) => o.cleanMs !== null).map((o) => o.cleanMs!);
    console.log(
      `| ${provider} | ${signal} | ${os.length} | ${clean.length} | ${Math.round(median(clean))} ms | ${Math.round(Math.max(...clean))} ms | ${os.filter((o) => o.recorded).length} | ${median(os.filter((o) => o.recorded).map((o) => o.historyOps))} |`,
    );
  }
}
const dirty = outcomes.filter((o) => o.cleanMs === null);
if (dirty.length > 0) {
  console.log(`\n${dirty.length} runs left something behind:`);
  for (const o of dirty) console.log(`  ${o.provider} ${o.signal} at ${o.atMs} ms: ${o.left}`);
  process.exitCode = 1;
}
