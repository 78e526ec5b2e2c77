// The analysis pipeline: a run's history.jsonl through its workload's
// checkers (found by the workload's name in test.json, so a stored run is
// judged from its folder alone), then results.json and report.html. The end
// of every `undertow test`, and all of `undertow analyze`.

import { writeFileSync } from 'node:fs';
import { compose, type ComposedResult } from '../../checkers/index.js';
import { pairOps } from '../../history/pair.js';
import { readHistoryFile } from '../../history/read.js';
import type { History, Operation } from '../../history/types.js';
import { renderReport } from '../../results/report.js';
import { readJson, writeJson, type RunPaths } from '../../results/store.js';
import { workloadNamed } from '../../workloads/index.js';
import type { TestSpec } from '../core/workload.js';

export type StoredTest = TestSpec & Record<string, unknown>;

export async function loadHistory(paths: RunPaths): Promise<{ history: History; operations: Operation[] }> {
  const { ops, lines } = await readHistoryFile(paths.history);
  return { history: ops, operations: pairOps(ops, { file: paths.history, lines }) };
}

export async function loadRun(paths: RunPaths): Promise<{ test: StoredTest; history: History; operations: Operation[] }> {
  return { test: readJson<StoredTest>(paths.test, 'test description'), ...(await loadHistory(paths)) };
}

/** The workload's checkers over a history. */
export function checkWorkload(test: TestSpec, history: History, operations: Operation[]): ComposedResult {
  return compose(workloadNamed(test.workload).checkers(test))(history, operations);
}

/** results.json and report.html of a run. */
export function writeResults(paths: RunPaths, test: StoredTest, history: History, results: ComposedResult): void {
  writeJson(paths.results, results);
  writeFileSync(paths.report, renderReport({ test, history, results }));
}

/** Checks a run's history.jsonl with its workload's checkers and writes the results. */
export async function analyzeRun(paths: RunPaths, test: StoredTest): Promise<ComposedResult> {
  const { history, operations } = await loadHistory(paths);
  const results = checkWorkload(test, history, operations);
  writeResults(paths, test, history, results);
  return results;
}

/** The verdict, each checker's, and where the files are: what `undertow test` and `analyze` print. */
export function describeRun(paths: RunPaths, test: TestSpec, results: ComposedResult): string {
  const lines = [`${results.verdict}: ${paths.dir} (workload ${test.workload})`];
  for (const [name, r] of Object.entries(results.results)) lines.push(`  ${name.padEnd(14)} ${r.verdict}`);
  lines.push(`results: ${paths.results}`, `report:  ${paths.report}`);
  return lines.join('\n');
}
