// `undertow analyze [RUN_DIR]`: check a stored run again (its workload's
// checkers over history.jsonl), rewrite results.json and report.html, and
// print the verdict. `undertow report RUN_DIR` only rewrites report.html.

import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import type { ComposedResult } from '../../checkers/index.js';
import { pairOps } from '../../history/pair.js';
import type { History } from '../../history/types.js';
import { readHistoryFile } from '../../history/read.js';
import { renderReport } from '../../results/report.js';
import { DEFAULT_STORE, readJson, resolveRun, writeJson, type RunPaths } from '../../results/store.js';
import { checkWorkload, type TestSpec } from '../../workloads/checkers.js';

interface RunArgs {
  run?: string;
  store: string;
}

const EXIT = { valid: 0, invalid: 1, unknown: 2 } as const;

type StoredTest = TestSpec & Record<string, unknown>;

async function loadHistory(paths: RunPaths) {
  const { ops, lines } = await readHistoryFile(paths.history);
  return { history: ops, operations: pairOps(ops, { file: paths.history, lines }) };
}

async function loadRun(paths: RunPaths) {
  return { test: readJson<StoredTest>(paths.test, 'test description'), ...(await loadHistory(paths)) };
}

/** results.json and report.html of a run. */
export function writeResults(paths: RunPaths, test: StoredTest, history: History, results: ComposedResult): void {
  writeJson(paths.results, results);
  writeFileSync(paths.report, renderReport({ test, history, results }));
}

/** Checks a run's history.jsonl with its workload's checkers and writes the results: `undertow analyze`, and the end of every `undertow test`. */
export async function analyzeRun(paths: RunPaths, test: StoredTest): Promise<ComposedResult> {
  const { history, operations } = await loadHistory(paths);
  const results = checkWorkload(test, history, operations);
  writeResults(paths, test, history, results);
  return results;
}

export function analyzeCommand(setExit: (code: number) => void): CommandModule<object, RunArgs> {
  return {
    command: 'analyze [run]',
    describe: "Check a stored run again with its workload's checkers; rewrites results.json and report.html",
    builder: (y) =>
      y
        .positional('run', { type: 'string', describe: 'a run folder (store/NAME/TIMESTAMP); default: store/latest' })
        .option('store', { type: 'string', default: DEFAULT_STORE, describe: 'the store folder' }),
    handler: async (args) => {
      const paths = resolveRun(args.run, args.store);
      const test = readJson<StoredTest>(paths.test, 'test description');
      const results = await analyzeRun(paths, test);
      process.stdout.write(`${describeRun(paths, test, results)}\n`);
      setExit(EXIT[results.verdict]);
    },
  };
}

export function reportCommand(): CommandModule<object, RunArgs> {
  return {
    command: 'report [run]',
    describe: "Write a run's report.html again from its history and results.json",
    builder: (y) =>
      y
        .positional('run', { type: 'string', describe: 'a run folder (store/NAME/TIMESTAMP); default: store/latest' })
        .option('store', { type: 'string', default: DEFAULT_STORE, describe: 'the store folder' }),
    handler: async (args) => {
      const paths = resolveRun(args.run, args.store);
      const { test, history } = await loadRun(paths);
      const results = readJson<ComposedResult>(paths.results, 'results');
      writeFileSync(paths.report, renderReport({ test, history, results }));
      process.stdout.write(`report: ${paths.report}\n`);
    },
  };
}

export function describeRun(paths: RunPaths, test: TestSpec, results: ComposedResult): string {
  const lines = [`${results.verdict}: ${paths.dir} (workload ${test.workload})`];
  for (const [name, r] of Object.entries(results.results)) lines.push(`  ${name.padEnd(14)} ${r.verdict}`);
  lines.push(`results: ${paths.results}`, `report:  ${paths.report}`);
  return lines.join('\n');
}
