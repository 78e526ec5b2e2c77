// `undertow test`: run a test against a fresh cluster (the main job).
// Flags become a TestConfig (test.json; harness/run/test-flags.ts), run by
// run-test.ts; --test-count repeats it. Exit codes: 0 valid, 1 invalid, 2
// unknown, 254 bad arguments, 255 the harness failed; over several runs the
// worst one counts.

import { onInterrupt } from '../run/interrupt.js';
import type { CommandModule } from 'yargs';
import { describeRun } from '../run/analysis.js';
import { runTest, type RunOutcome } from '../run/run-test.js';
import { replayConfig, runSimTest } from '../run/run-sim.js';
import { shrinkSimRun } from '../run/shrink.js';
import { defaultThreads, runSeedsInThreads } from '../run/sim-pool.js';
import { readHistoryFile } from '../../history/read.js';
import { InputError } from '../../history/input-error.js';
import { checkMachine, PROVIDERS, SIM_PROVIDER, testConfig, testFlags, type TestArgs } from '../run/test-flags.js';

const RANK = { valid: 0, unknown: 1, invalid: 2 } as const;

export function testCommand(setExit: (code: number) => void): CommandModule<object, TestArgs> {
  return {
    command: 'test',
    describe: 'Run a test: start a cluster, run a workload under faults, check the history, write results and a report',
    builder: (y) => testFlags(y),
    handler: async (args) => {
      if (args.replay !== undefined) {
        const { test, historySha256 } = replayConfig(args.replay, args.store);
        const outcome = await runSimTest(test);
        if (outcome.results) process.stdout.write(`${describeRun(outcome.paths, test, outcome.results)}\n`);
        const same = outcome.historySha256 === historySha256;
        process.stdout.write(
          same
            ? `replay: the same history as ${args.replay} (sha256 ${historySha256.slice(0, 16)})\n`
            : `replay: the history DIFFERS from ${args.replay} (${historySha256.slice(0, 16)} then, ${outcome.historySha256.slice(0, 16)} now): a different build, or nondeterminism\n`,
        );
        setExit(!same || outcome.failure ? 255 : outcome.results ? { valid: 0, unknown: 2, invalid: 1 }[outcome.results.verdict] : 255);
        return;
      }
      const first = testConfig(args);
      await checkMachine(first);
      if (first.provider === SIM_PROVIDER) {
        const shrinkBudget = args['shrink-budget'] ?? 60;
        if (!(shrinkBudget >= 0)) throw new InputError(`--shrink-budget must be >= 0 seconds, got ${shrinkBudget}`);
        const threads = args.threads ?? defaultThreads();
        if (!(Number.isInteger(threads) && threads >= 1)) throw new InputError(`--threads must be an integer >= 1, got ${threads}`);
        setExit(await runSimSeeds(first, args['test-count'], shrinkBudget, threads));
        return;
      }
      const provider = await PROVIDERS[first.provider]();
      const { stop, release } = onInterrupt('stopping the clients, tearing the cluster down, checking what was recorded');
      let worst = -1;
      let code = 0;
      try {
        for (let i = 0; i < args['test-count'] && !stop.signal.aborted; i++) {
          const test = i === 0 ? first : { ...first, seed: first.seed + i };
          const outcome: RunOutcome = await runTest(test, provider, stop.signal);
          if (outcome.results) process.stdout.write(`${describeRun(outcome.paths, test, outcome.results)}\n`);
          if (outcome.failure) {
            process.stderr.write(`undertow: the run failed: ${outcome.failure} (details in ${outcome.paths.harnessLog})\n`);
            code = 255;
          } else if (outcome.results && RANK[outcome.results.verdict] > worst) {
            worst = RANK[outcome.results.verdict];
            if (code !== 255) code = { valid: 0, unknown: 2, invalid: 1 }[outcome.results.verdict];
          }
        }
      } finally {
        release();
      }
      setExit(code);
    },
  };
}

/** --provider sim over `count` seeds from the first's: one line per seed, and the worst verdict's exit code. */
async function runSimSeeds(first: Parameters<typeof runSimTest>[0], count: number, shrinkBudgetS: number, threads: number): Promise<number> {
  const codeOf = (verdict: 'valid' | 'invalid' | 'unknown' | null, failure: string | null): number =>
    failure !== null || verdict === null ? 255 : { valid: 0, unknown: 2, invalid: 1 }[verdict];
  if (count > 1) {
    // Many seeds: every core (worker threads), a line per seed as it ends, the worst verdict's exit code.
    const t0 = performance.now();
    const tally = { valid: 0, invalid: 0, unknown: 0, failed: 0 };
    let worst = 0;
    await runSeedsInThreads(first, count, threads, (r) => {
      tally[r.failure !== null || r.verdict === null ? 'failed' : r.verdict]++;
      const code = codeOf(r.verdict, r.failure);
      if (code === 255 || (worst !== 255 && RANK_OF_CODE[code] > RANK_OF_CODE[worst])) worst = code;
      const speed = `${r.virtualSeconds.toFixed(1)} virtual s in ${r.wallSeconds.toFixed(2)} s`;
      process.stdout.write(`seed ${r.seed}: ${r.failure !== null ? `failed (${r.failure})` : (r.verdict ?? 'failed')} (${speed}) ${r.dir}\n`);
    });
    const s = (performance.now() - t0) / 1000;
    process.stdout.write(
      `${count} seeds in ${s.toFixed(1)} s on ${Math.min(threads, count)} threads: ${tally.valid} valid, ${tally.invalid} invalid, ${tally.unknown} unknown, ${tally.failed} failed\n`,
    );
    return worst;
  }
  const outcome = await runSimTest(first);
  if (outcome.results) process.stdout.write(`${describeRun(outcome.paths, first, outcome.results)}\n`);
  const speed = `${outcome.virtualSeconds.toFixed(1)} virtual s in ${outcome.wallSeconds.toFixed(2)} s`;
  process.stdout.write(`sim: seed ${first.seed}, ${speed}; replay: undertow test --provider sim --replay ${outcome.paths.dir}\n`);
  if (shrinkBudgetS > 0 && outcome.results?.verdict === 'invalid') {
    process.stdout.write(`shrinking (up to ${shrinkBudgetS} s)...\n`);
    const history = (await readHistoryFile(outcome.paths.history)).ops;
    const s = await shrinkSimRun(first, outcome, history, shrinkBudgetS * 1000);
    const { before: b, after: a } = s;
    process.stdout.write(
      s.dir === null
        ? `shrink: no smaller failing run found in ${s.tries} tries\n`
        : `shrunk in ${s.tries} tries (still invalid by ${s.checkers.join(', ')}): faults ${b.faults} -> ${a.faults}, client ops ${b.ops} -> ${a.ops}, virtual s ${b.virtualSeconds.toFixed(1)} -> ${a.virtualSeconds.toFixed(1)}\n` +
            `replay it: undertow test --provider sim --replay ${s.dir}\n`,
    );
  }
  if (outcome.failure) process.stderr.write(`undertow: the run failed: ${outcome.failure}\n`);
  return codeOf(outcome.results?.verdict ?? null, outcome.failure);
}

/** Exit codes by how bad: valid, unknown, invalid (a failure, 255, beats them all). */
const RANK_OF_CODE: Record<number, number> = { 0: 0, 2: 1, 1: 2, 255: 3 };
