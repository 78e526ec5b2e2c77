// `undertow analyze [RUN_DIR]`: check a stored run again (its workload's
// checkers over history.jsonl), rewrite results.json and report.html, and
// print the verdict. `undertow report RUN_DIR` only rewrites report.html.

import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import type { ComposedResult } from '../../checkers/index.js';
import { renderReport } from '../../results/report.js';
import { DEFAULT_STORE, readJson, resolveRun } from '../../results/store.js';
import { analyzeRun, describeRun, loadRun, type StoredTest } from '../run/analysis.js';

interface RunArgs {
  run?: string;
  store: string;
}

const EXIT = { valid: 0, invalid: 1, unknown: 2 } as const;

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
