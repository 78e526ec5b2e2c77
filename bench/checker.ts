// npm run bench:checker: the linearizability checker on every history of
// ../shared/histories/manifest.json, against Porcupine's own times (Go, same
// kind of machine) from porcupine-times.json.
//
// Time: in-process checking time, parsing excluded (as Porcupine's figures
// are), median of 5 runs after a warm-up pass over all histories so the JIT
// has compiled the search, and 10 untimed runs of the history itself.
// Memory: each history is checked once more in a fresh process, which reports
// its peak resident set size (the Node runtime's own ~45 MB included). No forced collections between runs: measured, a
// full gc() before each run made the following runs 2-4x slower.
//
// Then the Knossos section: the models Knossos has (cas-register with
// Knossos's semantics and init 0, mutex, multi-register, the queues) on large
// generated histories (knossos-histories.ts), timed and measured the same way.
// `--knossos` runs only that section.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkLinearizable, modelNamed } from '../checkers/linearizability/index.js';
import { pairOps } from '../history/pair.js';
import { readHistoryFile } from '../history/read.js';
import type { Operation } from '../history/types.js';
import { knossosBenches } from './knossos-histories.js';
import { median } from '../harness/bench/stats.js';

interface ManifestEntry {
  file: string;
  model: string;
  ops: number;
  expected: 'linearizable' | 'not-linearizable';
}

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = 5;
const WARMUP_PASSES = 3;
/** Untimed runs of each history just before its timed ones. */
const WARMUP_RUNS = 10;
const BUDGET_MS = 60_000;

async function load(dir: string, entry: ManifestEntry): Promise<Operation[]> {
  const file = join(dir, entry.file);
  const { ops, lines } = await readHistoryFile(file);
  return pairOps(ops, { file, lines });
}

/** Child mode: check one history once and print the peak RSS in MB. */
async function measureMemory(dir: string, file: string, model: string): Promise<void> {
  const ops = await load(dir, { file, model, ops: 0, expected: 'linearizable' });
  checkLinearizable(modelNamed(model), ops, { budgetMs: BUDGET_MS });
  process.stdout.write(`${(process.resourceUsage().maxRSS / 1024).toFixed(1)}\n`);
}

/** Child mode: check one generated Knossos history once and print the peak RSS in MB. */
function measureKnossosMemory(name: string): void {
  const b = knossosBenches().find((x) => x.name === name)!;
  const ops = pairOps(b.history);
  checkLinearizable(modelNamed(b.model, { init: b.init, semantics: b.semantics }), ops, { budgetMs: BUDGET_MS });
  process.stdout.write(`${(process.resourceUsage().maxRSS / 1024).toFixed(1)}\n`);
}

async function knossosSection(): Promise<string[]> {
  const out: string[] = [];
  out.push('Knossos models, generated histories (1% of ops time out):');
  out.push(`${pad('model', 32, true)} ${pad('ops', 6)} ${pad('clients', 7)} ${pad('verdict', 8, true)} ${pad('median ms', 10)} ${pad('peak MB', 8)}`);
  for (const b of knossosBenches()) {
    const ops = pairOps(b.history);
    const model = modelNamed(b.model, { init: b.init, semantics: b.semantics });
    for (let run = 0; run < 2; run++) checkLinearizable(model, ops, { budgetMs: BUDGET_MS });
    const times: number[] = [];
    let verdict = '';
    for (let run = 0; run < RUNS; run++) {
      const t = performance.now();
      verdict = checkLinearizable(model, ops, { budgetMs: BUDGET_MS }).verdict;
      times.push(performance.now() - t);
    }
    const rss = Number(
      execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--memory-knossos', b.name])
        .toString()
        .trim(),
    );
    out.push(
      `${pad(b.name, 32, true)} ${pad(ops.length, 6)} ${pad(b.clients, 7)} ${pad(verdict, 8, true)} ${pad(median(times).toFixed(1), 10)} ${pad(rss.toFixed(0), 8)}${verdict === 'valid' ? '' : '  WRONG (expected valid)'}`,
    );
    if (verdict !== 'valid') process.exitCode = 1;
  }
  return out;
}

function pad(s: string | number, n: number, left = false): string {
  const t = String(s);
  return left ? t.padEnd(n) : t.padStart(n);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--memory-knossos') return measureKnossosMemory(process.argv[3]);
  if (process.argv[2] === '--knossos') {
    process.stdout.write(`${(await knossosSection()).join('\n')}\n`);
    return;
  }
  const dir = resolve(process.env.UNDERTOW_HISTORIES ?? join(here, '..', '..', '..', 'shared', 'histories'));
  if (!existsSync(join(dir, 'manifest.json'))) {
    process.stderr.write(`bench:checker: no manifest.json in ${dir} (put ../shared beside the project, or set UNDERTOW_HISTORIES)\n`);
    process.exit(254);
  }
  if (process.argv[2] === '--memory') return measureMemory(dir, process.argv[3], process.argv[4]);

  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ManifestEntry[];
  const porcupine = JSON.parse(readFileSync(join(dir, 'porcupine-times.json'), 'utf8')) as Record<string, number>;
  const histories = await Promise.all(manifest.map(async (entry) => ({ entry, ops: await load(dir, entry) })));

  for (let pass = 0; pass < WARMUP_PASSES; pass++) {
    for (const { entry, ops } of histories) checkLinearizable(modelNamed(entry.model), ops, { budgetMs: BUDGET_MS });
  }

  const rows: { entry: ManifestEntry; verdict: string; expected: string; ms: number; porcupine: number; rss: number }[] = [];
  for (const { entry, ops } of histories) {
    const model = modelNamed(entry.model);
    const times: number[] = [];
    let verdict = '';
    for (let run = 0; run < WARMUP_RUNS; run++) checkLinearizable(model, ops, { budgetMs: BUDGET_MS });
    for (let run = 0; run < RUNS; run++) {
      const t = performance.now();
      verdict = checkLinearizable(model, ops, { budgetMs: BUDGET_MS }).verdict;
      times.push(performance.now() - t);
    }
    const expected = entry.expected === 'linearizable' ? 'valid' : 'invalid';
    const rss = Number(
      execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--memory', entry.file, entry.model], {
        env: { ...process.env, UNDERTOW_HISTORIES: dir },
      })
        .toString()
        .trim(),
    );
    rows.push({ entry, verdict, expected, ms: median(times), porcupine: porcupine[entry.file], rss });
  }

  const out: string[] = [];
  out.push(
    `${pad('file', 28, true)} ${pad('ops', 5)} ${pad('verdict', 8, true)} ${pad('median ms', 10)} ${pad('porcupine', 10)} ${pad('ratio', 6)} ${pad('peak MB', 8)}`,
  );
  for (const r of rows) {
    const mark = r.verdict === r.expected ? '' : `  WRONG (expected ${r.expected})`;
    out.push(
      `${pad(r.entry.file, 28, true)} ${pad(r.entry.ops, 5)} ${pad(r.verdict, 8, true)} ${pad(r.ms.toFixed(3), 10)} ${pad(r.porcupine.toFixed(3), 10)} ${pad((r.ms / r.porcupine).toFixed(2), 6)} ${pad(r.rss.toFixed(0), 8)}${mark}`,
    );
  }
  out.push('');
  out.push(
    `${pad('set', 16, true)} ${pad('histories', 9)} ${pad('total ms', 10)} ${pad('porcupine', 10)} ${pad('slowest (ms)', 30, true)} ${pad('max ratio', 30, true)} ${pad('peak MB', 8)}`,
  );
  for (const set of ['porcupine-etcd', 'porcupine-kv']) {
    const rs = rows.filter((r) => r.entry.file.startsWith(`${set}/`));
    const total = rs.reduce((a, r) => a + r.ms, 0);
    const ptotal = rs.reduce((a, r) => a + r.porcupine, 0);
    const slowest = rs.reduce((a, r) => (r.ms > a.ms ? r : a));
    const worst = rs.reduce((a, r) => (r.ms / r.porcupine > a.ms / a.porcupine ? r : a));
    const name = (r: { entry: ManifestEntry }) => r.entry.file.slice(set.length + 1).replace(/\.edn$/, '');
    out.push(
      `${pad(set, 16, true)} ${pad(rs.length, 9)} ${pad(total.toFixed(1), 10)} ${pad(ptotal.toFixed(1), 10)} ${pad(`${name(slowest)} ${slowest.ms.toFixed(1)}`, 30, true)} ${pad(`${name(worst)} ${(worst.ms / worst.porcupine).toFixed(2)}x`, 30, true)} ${pad(Math.max(...rs.map((r) => r.rss)).toFixed(0), 8)}`,
    );
  }
  const wrong = rows.filter((r) => r.verdict !== r.expected);
  const etcd = rows.filter((r) => r.entry.file.startsWith('porcupine-etcd/'));
  const etcdTotal = etcd.reduce((a, r) => a + r.ms, 0);
  const etcdPorcupine = etcd.reduce((a, r) => a + r.porcupine, 0);
  const over2x = rows.filter((r) => r.ms > 2 * r.porcupine);
  const maxRss = Math.max(...rows.map((r) => r.rss));
  out.push('');
  out.push(`verdicts: ${rows.length - wrong.length}/${rows.length} as expected${wrong.length ? ` (WRONG: ${wrong.map((r) => r.entry.file).join(', ')})` : ''}`);
  out.push(`target etcd total <= Porcupine's: ${etcdTotal.toFixed(1)} ms vs ${etcdPorcupine.toFixed(1)} ms: ${etcdTotal <= etcdPorcupine ? 'met' : 'NOT met'}`);
  out.push(
    `target no history over 2x Porcupine: ${over2x.length === 0 ? 'met' : `NOT met (${over2x.map((r) => `${r.entry.file} ${(r.ms / r.porcupine).toFixed(2)}x`).join(', ')})`}`,
  );
  out.push(`target peak memory < 1 GiB: ${maxRss.toFixed(0)} MB: ${maxRss < 1024 ? 'met' : 'NOT met'}`);
  out.push('');
  out.push(...(await knossosSection()));
  process.stdout.write(`${out.join('\n')}\n`);
  if (wrong.length > 0) process.exitCode = 1;
}

await main();
