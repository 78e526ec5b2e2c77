// Shrinking an invalid --provider sim run: a search for a smaller test that
// still fails, each candidate a whole simulated run judged by the same
// checkers. Delta debugging (Zeller's ddmin) over the run's fault ops, held as
// a script (the faults at the times they happened), then a shorter time
// limit, fewer client processes and a lower rate, each kept only if the run
// stays invalid. Bounded by a wall-time budget; the smallest failing run is
// copied to RUN_DIR/shrunk/ (a complete run folder: its report shows the
// counterexample, its test.json replays it).

import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readHistoryFile } from '../../history/read.js';
import { NEMESIS, type Op } from '../../history/types.js';
import { runSimTest, type SimOutcome } from './run-sim.js';
import type { ScriptedFault, TestConfig } from './run-test.js';

export interface ShrinkResult {
  /** The checkers whose failure the search kept. */
  checkers: string[];
  /** The shrunk run folder (RUN_DIR/shrunk), or null when no smaller failing run was found. */
  dir: string | null;
  before: Size;
  after: Size;
  /** Candidate runs tried. */
  tries: number;
  test: TestConfig;
}

export interface Size {
  faults: number;
  ops: number;
  virtualSeconds: number;
}

/** The fault ops of a run's history as a script (heal-all, which every test ends with, left out). */
export function faultScriptOf(history: readonly Op[]): ScriptedFault[] {
  return history.filter((e) => e.process === NEMESIS && e.type === 'invoke' && e.f !== 'heal-all').map((e) => ({ atNs: e.time, f: e.f, value: e.value }));
}

const clientOps = (history: readonly Op[]): number => history.filter((e) => e.process !== NEMESIS && e.type === 'invoke').length;

export async function shrinkSimRun(test: TestConfig, first: SimOutcome, history: readonly Op[], budgetMs: number): Promise<ShrinkResult> {
  const deadline = performance.now() + budgetMs;
  const store = mkdtempSync(join(tmpdir(), 'undertow-shrink-'));
  const script = faultScriptOf(history);
  const before: Size = { faults: script.length, ops: clientOps(history), virtualSeconds: first.virtualSeconds };
  let best: { test: TestConfig; outcome: SimOutcome; size: Size } | null = null;
  let current: TestConfig = { ...test, name: `${test.name}-shrunk`, store, faultScript: script };
  let tries = 0;
  // The failure to keep: the checkers that found the original invalid. `stats` (some kind of op never
  // succeeded) only when nothing else did: a test cut short fails it easily, for no interesting reason.
  const failed = Object.entries(first.results?.results ?? {})
    .filter(([, r]) => r.verdict === 'invalid')
    .map(([name]) => name);
  const keep = failed.some((n) => n !== 'stats') ? failed.filter((n) => n !== 'stats') : failed;

  /** Runs a candidate; keeps it (and returns true) if one of the original's failing checkers fails it too. */
  const attempt = async (candidate: TestConfig): Promise<boolean> => {
    if (performance.now() >= deadline) return false;
    tries++;
    const o = await runSimTest(candidate, { quiet: true });
    if (o.failure !== null || !keep.some((n) => o.results?.results[n]?.verdict === 'invalid')) {
      rmSync(o.paths.dir, { recursive: true, force: true });
      return false;
    }
    const h = (await readHistoryFile(o.paths.history)).ops;
    if (best !== null) rmSync(best.outcome.paths.dir, { recursive: true, force: true });
    best = { test: candidate, outcome: o, size: { faults: candidate.faultScript?.length ?? 0, ops: clientOps(h), virtualSeconds: o.virtualSeconds } };
    current = candidate;
    return true;
  };

  // The script alone must fail first (the scripted faults resolve targets at run time, as the schedule's did).
  if (await attempt(current)) {
    // ddmin over the fault ops: remove chunks, halving the chunk size when nothing can go.
    let chunk = Math.max(1, Math.floor((current.faultScript ?? []).length / 2));
    while (chunk >= 1 && performance.now() < deadline) {
      let removed = false;
      const faults = current.faultScript ?? [];
      for (let i = 0; i < faults.length && performance.now() < deadline; i += chunk) {
        const now = current.faultScript ?? [];
        if (i >= now.length) break;
        const candidate = [...now.slice(0, i), ...now.slice(i + chunk)];
        if (await attempt({ ...current, faultScript: candidate })) {
          removed = true;
          i -= chunk; // the ops that moved into place i are tried next
        }
      }
      if (!removed) chunk = Math.floor(chunk / 2);
    }
    // Earlier: the faults moved towards the start (the history before the first fault shrinks).
    const earlier = async (factor: number): Promise<boolean> => {
      const faults = current.faultScript ?? [];
      if (faults.length === 0 || faults[0].atNs < 1e9) return false;
      return attempt({ ...current, faultScript: faults.map((f) => ({ ...f, atNs: Math.round(f.atNs * factor) })) });
    };
    while (performance.now() < deadline && ((await earlier(0.5)) || (await earlier(0.75))));
    for (let round = 0; round < 2; round++) {
      // Shorter: just past the last fault, then halves of the time limit; no quiet phase.
      const lastFault = Math.max(0, ...(current.faultScript ?? []).map((f) => f.atNs)) / 1e9;
      for (const t of [Math.ceil(lastFault + 1), Math.ceil(lastFault + 3), Math.ceil(current.timeLimit / 2)]) {
        if (t < current.timeLimit && t > lastFault && (await attempt({ ...current, timeLimit: t }))) break;
      }
      if (current.quiet > 0) await attempt({ ...current, quiet: 0 });
      // Fewer clients, fewer ops.
      for (const c of [1, 2, Math.floor(current.concurrency / 2)])
        if (c >= 1 && c < current.concurrency && (await attempt({ ...current, concurrency: c }))) break;
      for (const r of [current.rate / 4, current.rate / 2, (current.rate * 3) / 4]) if (await attempt({ ...current, rate: r })) break;
    }
  }

  const found = best as { test: TestConfig; outcome: SimOutcome; size: Size } | null;
  let dir: string | null = null;
  if (found !== null) {
    dir = join(first.paths.dir, 'shrunk');
    cpSync(found.outcome.paths.dir, dir, { recursive: true });
  }
  rmSync(store, { recursive: true, force: true });
  return { checkers: keep, dir, before, after: found?.size ?? before, tries, test: found?.test ?? test };
}
