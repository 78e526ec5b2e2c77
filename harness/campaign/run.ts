// Running a campaign: its cells one after another (one cluster at a time: a
// 2-core machine cannot judge a system while running two), each a normal run
// folder in the store, until the budget is spent. A cell that does not start
// is reported as not run, never dropped, so a short night is visible.

import { relative } from 'node:path';
import type { ComposedResult, Verdict } from '../../checkers/index.js';
import { renderText, type Counterexample } from '../../checkers/linearizability/counterexample.js';
import type { RunOutcome } from '../run/run-test.js';
import { toArgv, type Cell } from './cells.js';
import type { Expect, FlagValue } from './parse.js';

export type Outcome = 'pass' | 'fail' | 'unknown' | 'not-run' | 'crashed';
export const OUTCOMES: readonly Outcome[] = ['pass', 'fail', 'unknown', 'crashed', 'not-run'];

export interface CellResult {
  index: number;
  id: string;
  settings: Record<string, FlagValue>;
  /** The run's folder name (store/NAME/...), seed and seeded bugs: what the cell ran. */
  name: string;
  seed: number;
  bugs: string[];
  expected: Expect;
  /** The run's folder relative to the store (NAME/TIMESTAMP), null if it did not run. */
  run: string | null;
  verdict: Verdict | null;
  outcome: Outcome;
  /** Seconds the cell took, cluster start to verdict. */
  durationS: number | null;
  /** ok ops per second, and the p99 latency of ok ops (ms), from results.json's perf. */
  throughput: number | null;
  p99: number | null;
  /** The harness's own failure (outcome crashed), or why the cell did not run. */
  failure: string | null;
  note: string | null;
  interrupted: boolean;
  /** The first lines of the first invalid checker's counterexample. */
  counterexample: string[];
}

export interface Shard {
  index: number;
  count: number;
}

export interface CampaignResult {
  campaign: string;
  file: string;
  startedAt: string;
  endedAt: string;
  budgetS: number;
  /** The shards whose cells this holds (one for a shard's own run, several after a merge); null: all cells, unsharded. */
  shards: Shard[] | null;
  /** Cells in the whole campaign, in every shard. */
  totalCells: number;
  cells: CellResult[];
  counts: Record<Outcome, number>;
  exitCode: number;
  interrupted: boolean;
}

/** Runs one cell: a test run with the cell's config (runTest over the cell's provider). */
export type CellRunner = (cell: Cell, stop: AbortSignal) => Promise<Pick<RunOutcome, 'results' | 'failure' | 'interrupted'> & { paths: { dir: string } }>;

export interface RunCampaignOptions {
  name: string;
  file: string;
  budgetS: number;
  store: string;
  shard: Shard | null;
  totalCells: number;
  runCell: CellRunner;
  stop: AbortSignal;
  /** A line per finished cell (default: nowhere). */
  log?: (line: string) => void;
  /** Milliseconds, for the budget (tests give their own clock). */
  now?: () => number;
}

export async function runCampaign(cells: Cell[], o: RunCampaignOptions): Promise<CampaignResult> {
  const now = o.now ?? Date.now;
  const t0 = now();
  const startedAt = new Date().toISOString();
  const results: CellResult[] = [];
  for (const [i, cell] of cells.entries()) {
    const spentS = (now() - t0) / 1000;
    // A cell starts only if its own main phase and quiet still fit in what is left.
    const needS = cell.config.timeLimit + cell.config.quiet;
    if (o.stop.aborted || spentS + needS > o.budgetS) {
      const note = o.stop.aborted
        ? 'not run: the campaign was interrupted'
        : `not run: the budget (${o.budgetS} s) was spent (${Math.round(spentS)} s used, the cell needs ${needS} s)`;
      results.push(notRun(cell, note));
      o.log?.(`[${i + 1}/${cells.length}] not-run  ${cell.id}: ${note}`);
      continue;
    }
    const c0 = now();
    let result: CellResult;
    try {
      const r = await o.runCell(cell, o.stop);
      result = judge(cell, r, (now() - c0) / 1000, o.store);
    } catch (e) {
      // A cell whose run could not even start is that cell's failure, not the end of the night.
      result = {
        ...notRun(cell, null),
        outcome: 'crashed',
        failure: e instanceof Error ? e.message : String(e),
        durationS: Math.round((now() - c0) / 100) / 10,
      };
    }
    results.push(result);
    o.log?.(
      `[${i + 1}/${cells.length}] ${result.outcome.padEnd(8)} ${cell.id}: expected ${cell.expect}, got ${result.verdict ?? 'no verdict'}${result.interrupted ? ' (interrupted)' : ''}${result.failure ? ` (${result.failure})` : ''} in ${result.durationS?.toFixed(1)} s${result.run ? `: ${result.run}` : ''}`,
    );
  }
  return finish({
    campaign: o.name,
    file: o.file,
    startedAt,
    endedAt: new Date().toISOString(),
    budgetS: o.budgetS,
    shards: o.shard ? [o.shard] : null,
    totalCells: o.totalCells,
    cells: results,
    interrupted: o.stop.aborted,
  });
}

function base(
  cell: Cell,
): Omit<CellResult, 'run' | 'verdict' | 'outcome' | 'durationS' | 'throughput' | 'p99' | 'failure' | 'note' | 'interrupted' | 'counterexample'> {
  return {
    index: cell.index,
    id: cell.id,
    settings: cell.settings,
    name: cell.config.name,
    seed: cell.config.seed,
    bugs: cell.config.bugs,
    expected: cell.expect,
  };
}

export function notRun(cell: Cell, note: string | null): CellResult {
  return {
    ...base(cell),
    run: null,
    verdict: null,
    outcome: 'not-run',
    durationS: null,
    throughput: null,
    p99: null,
    failure: null,
    note,
    interrupted: false,
    counterexample: [],
  };
}

/** A finished cell's outcome: pass when the verdict is the expected one; a harness failure is crashed, whatever was checked. */
export function judge(cell: Cell, r: Awaited<ReturnType<CellRunner>>, durationS: number, store: string): CellResult {
  const verdict = r.results?.verdict ?? null;
  const perf = r.results?.results.perf as { throughput?: number; latency?: { p99?: number } | null } | undefined;
  let outcome: Outcome;
  if (r.failure !== null) outcome = 'crashed';
  else if (verdict === null || verdict === 'unknown') outcome = 'unknown';
  // An interrupted run that found nothing is incomplete, not a pass: a bug might have shown later.
  else if (r.interrupted && verdict === 'valid') outcome = 'unknown';
  else outcome = verdict === cell.expect ? 'pass' : 'fail';
  return {
    ...base(cell),
    run: relative(store, r.paths.dir).split('\\').join('/'),
    verdict,
    outcome,
    durationS: Math.round(durationS * 10) / 10,
    throughput: typeof perf?.throughput === 'number' ? Math.round(perf.throughput * 10) / 10 : null,
    p99: typeof perf?.latency?.p99 === 'number' ? Math.round(perf.latency.p99 * 10) / 10 : null,
    failure: r.failure,
    note: r.interrupted ? 'interrupted' : null,
    interrupted: r.interrupted,
    counterexample: r.results ? counterexampleLines(r.results) : [],
  };
}

/** The first lines that say why a run is invalid: a linearizability counterexample's, else the invalid checker's details. */
export function counterexampleLines(results: ComposedResult, max = 5): string[] {
  for (const [name, r] of Object.entries(results.results)) {
    if (r.verdict !== 'invalid') continue;
    const failures = (r as { failures?: Counterexample[] }).failures;
    if (Array.isArray(failures) && failures.length > 0) {
      const lines = renderText(failures[0]).split('\n');
      const then = lines.findIndex((l) => l.startsWith('Then '));
      // The stuck op is the point; the prefix before it is long and in the report.
      return [`${name}: ${lines[0]}`, ...(then >= 0 ? lines.slice(then) : lines.slice(1))].slice(0, max);
    }
    if (r.checker === 'node-logs') {
      // The node-log checks: the anomalies, then the lines that must never appear, each in one line.
      const logs = r as { anomalies?: { what: string }[]; matches?: { node: string; line: number; what: string; text: string }[] };
      const found = [
        ...(logs.anomalies ?? []).map((a) => a.what),
        ...(logs.matches ?? []).map((m) => `${m.node}.log line ${m.line}: ${m.what}: ${m.text}`.slice(0, 200)),
      ];
      return [`${name}: invalid`, ...found].slice(0, max);
    }
    const details = Object.entries(r)
      .filter(([k, v]) => !['checker', 'verdict', 'valid'].includes(k) && !(Array.isArray(v) && v.length === 0))
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}`.slice(0, 200));
    return [`${name}: invalid`, ...details].slice(0, max);
  }
  return [];
}

export function countOutcomes(cells: CellResult[]): Record<Outcome, number> {
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  for (const c of cells) counts[c.outcome]++;
  return counts;
}

/** 0 every cell as expected; 1 a cell not as expected; 255 a cell's harness failed; 2 only unknown or not-run cells besides passes. */
export function exitCodeOf(counts: Record<Outcome, number>): number {
  if (counts.fail > 0) return 1;
  if (counts.crashed > 0) return 255;
  if (counts.unknown > 0 || counts['not-run'] > 0) return 2;
  return 0;
}

export function finish(r: Omit<CampaignResult, 'counts' | 'exitCode'>): CampaignResult {
  const cells = [...r.cells].sort((a, b) => a.index - b.index);
  const counts = countOutcomes(cells);
  return { ...r, cells, counts, exitCode: exitCodeOf(counts) };
}

/** What --list prints for a cell. */
export function describeCell(c: Cell, total: number): string {
  const flags = toArgv(c.settings).join(' ');
  return `${String(c.index + 1).padStart(String(total).length)}  expect ${c.expect.padEnd(7)}  ${c.id}  (line ${c.line}; undertow test ${flags})`;
}
