// `undertow test`: run a test against a fresh cluster (the main job).
// Flags become a TestConfig (test.json; harness/run/test-flags.ts), run by
// run-test.ts; --test-count repeats it. Exit codes: 0 valid, 1 invalid, 2
// unknown, 254 bad arguments, 255 the harness failed; over several runs the
// worst one counts.

import { onInterrupt } from '../run/interrupt.js';
import type { CommandModule } from 'yargs';
import { describeRun } from '../run/analysis.js';
import { runTest } from '../run/run-test.js';
import { checkMachine, PROVIDERS, testConfig, testFlags, type TestArgs } from '../run/test-flags.js';

const RANK = { valid: 0, unknown: 1, invalid: 2 } as const;

export function testCommand(setExit: (code: number) => void): CommandModule<object, TestArgs> {
  return {
    command: 'test',
    describe: 'Run a test: start a cluster, run a workload under faults, check the history, write results and a report',
    builder: (y) => testFlags(y),
    handler: async (args) => {
      const first = testConfig(args);
      await checkMachine(first);
      const provider = await PROVIDERS[first.provider]();
      const { stop, release } = onInterrupt('stopping the clients, tearing the cluster down, checking what was recorded');
      let worst = -1;
      let code = 0;
      try {
        for (let i = 0; i < args['test-count'] && !stop.signal.aborted; i++) {
          const test = i === 0 ? first : { ...first, seed: first.seed + i };
          const outcome = await runTest(test, provider, stop.signal);
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
