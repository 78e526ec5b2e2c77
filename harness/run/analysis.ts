// The analysis pipeline: a run's history.jsonl through its workload's
// checkers (found by the workload's name in test.json, so a stored run is
// judged from its folder alone), then results.json and report.html. The end
// of every `undertow test`, and all of `undertow analyze`.

import { writeFileSync } from 'node:fs';
import { compose, validOf, worst, type ComposedResult } from '../../checkers/index.js';
import { pairOps } from '../../history/pair.js';
import { readHistoryFile } from '../../history/read.js';
import type { History, Operation } from '../../history/types.js';
import { renderReport } from '../../results/report.js';
import { readJson, writeJson, type RunPaths } from '../../results/store.js';
import { workloadNamed } from '../../workloads/index.js';
import type { TestSpec } from '../core/workload.js';
import { coverageOf, type Coverage } from '../core/coverage.js';
import { readStoredCoverage, type StoredCoverage } from './coverage.js';

export type StoredTest = TestSpec & Record<string, unknown>;

/** results.json: the checkers' verdicts, and what the run's faults achieved (when the run recorded it). */
export type RunResults = ComposedResult & { coverage?: Coverage };

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
export function writeResults(paths: RunPaths, test: StoredTest, history: History, results: RunResults): void {
  writeJson(paths.results, results);
  writeFileSync(paths.report, renderReport({ test, history, results }));
}

/**
 * The node-log checks (a checker of their own: a crash or two primaries at
 * once makes the run invalid) and the coverage, from what the run stored.
 */
export function withCoverage(results: ComposedResult, stored: StoredCoverage | null, history: History): RunResults {
  if (stored === null) return results;
  const all = { ...results.results, ...(stored.logs ? { 'node-logs': stored.logs.result } : {}) };
  const verdict = worst(Object.values(all).map((r) => r.verdict));
  const coverage = coverageOf({ samples: stored.samples, taken: stored.taken, unanswered: stored.unanswered, history, system: stored.logs?.counts });
  return { ...results, verdict, valid: validOf(verdict), results: all, coverage };
}

/** Checks a run's history.jsonl with its workload's checkers (and its stored node-log checks) and writes the results. */
export async function analyzeRun(paths: RunPaths, test: StoredTest): Promise<RunResults> {
  const { history, operations } = await loadHistory(paths);
  const results = withCoverage(checkWorkload(test, history, operations), readStoredCoverage(paths.dir), history);
  writeResults(paths, test, history, results);
  return results;
}

/** The verdict, each checker's, and where the files are: what `undertow test` and `analyze` print. */
export function describeRun(paths: RunPaths, test: TestSpec, results: ComposedResult): string {
  const lines = [`${results.verdict}: ${paths.dir} (workload ${test.workload})`];
  for (const [name, r] of Object.entries(results.results)) lines.push(`  ${name.padEnd(14)} ${r.verdict}`);
  const coverage = (results as RunResults).coverage;
  if (coverage) lines.push(coverage.line);
  lines.push(`results: ${paths.results}`, `report:  ${paths.report}`);
  return lines.join('\n');
}
