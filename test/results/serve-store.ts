// A store with real runs for the results browser's tests: a valid and an
// invalid cas-register run (history, results from the real checkers, and
// report.html, as `undertow test` leaves them), plus a run still in progress.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport } from '../../results/report.js';
import { createRun, writeJson, type RunPaths } from '../../results/store.js';
import { runInput } from './fixtures.js';

export interface FixtureStore {
  store: string;
  valid: RunPaths;
  invalid: RunPaths;
}

/** Writes one checked run the way the harness does; `at` names its folder. */
export function writeCheckedRun(store: string, name: string, at: Date, opts: { corrupt: boolean; ops?: number; test?: Record<string, unknown> }): RunPaths {
  const input = runInput({ ops: opts.ops ?? 200, seed: 21, corrupt: opts.corrupt });
  const paths = createRun(store, name, at);
  const last = input.history[input.history.length - 1].time;
  const test = {
    name,
    workload: 'register',
    nemesis: ['partition-random-halves', 'kill'],
    provider: 'local',
    seed: 21,
    concurrency: 5,
    rate: 100,
    timeLimit: 10,
    bugs: opts.corrupt ? ['read-without-lease'] : [],
    startedAt: at.toISOString(),
    endedAt: new Date(at.getTime() + Math.round(last / 1e6)).toISOString(),
    ...opts.test,
  };
  writeJson(paths.test, test);
  writeFileSync(paths.history, input.history.map((op) => JSON.stringify(op)).join('\n') + '\n');
  writeJson(paths.results, input.results);
  writeFileSync(paths.report, renderReport({ ...input, test }));
  writeFileSync(
    paths.nemesis,
    input.history
      .filter((op) => op.process === 'nemesis')
      .map((op) => JSON.stringify(op))
      .join('\n') + '\n',
  );
  writeFileSync(paths.harnessLog, `${JSON.stringify({ level: 30, time: at.getTime(), msg: 'run started' })}\n`);
  for (const node of ['n1', 'n2']) {
    mkdirSync(join(paths.nodes, node), { recursive: true });
    writeFileSync(join(paths.nodes, node, `${node}.log`), `${node} started\n`);
  }
  return paths;
}

/** A temp store with the valid run (older) and the invalid one (newer, so store/latest). */
export function fixtureStore(): FixtureStore {
  const store = mkdtempSync(join(tmpdir(), 'undertow-serve-'));
  const valid = writeCheckedRun(store, 'cas-register', new Date('2026-03-01T10:00:00Z'), { corrupt: false });
  const invalid = writeCheckedRun(store, 'cas-register-bug', new Date('2026-03-02T11:30:00Z'), { corrupt: true });
  return { store, valid, invalid };
}
