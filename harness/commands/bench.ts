// `undertow bench`: throughput and latency of a system, closed and open
// loops, optionally under faults (--nemesis, as undertow test), into the
// store as bench.json and bench.html (harness/bench/); and
// `undertow bench compare A B`: two benches figure by figure, with whether
// each change stands out from run-to-run noise. Exit codes: bench 0, or 255
// when the harness failed; compare 0, or 1 when some figure got worse beyond
// the noise (so CI can gate on it), 254 for bad input.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../../history/input-error.js';
import { renderCompareHtml } from '../bench/bench-html.js';
import { DEFAULT_STORE, readJson, resolveRun } from '../../results/store.js';
import { benchConfig, benchFlags, type BenchArgs } from '../bench/config.js';
import { compareBenches, compareText } from '../bench/compare.js';
import type { BenchResult } from '../bench/result.js';
import { BENCH_JSON, runBench } from '../bench/run.js';
import { onInterrupt } from '../run/interrupt.js';
import { checkMachine, PROVIDERS } from '../run/test-flags.js';

interface CompareArgs {
  a: string;
  b: string;
  alpha: number;
  threshold: number;
  html?: string;
  store: string;
}

function readBench(arg: string, store: string): { dir: string; bench: BenchResult } {
  const dir = resolveRun(arg, store).dir;
  const bench = readJson<BenchResult>(join(dir, BENCH_JSON), 'bench results');
  if (bench.kind !== 'undertow-bench') throw new InputError(`${join(dir, BENCH_JSON)} is not a bench written by undertow bench`);
  return { dir, bench };
}

function compareCommand(setExit: (code: number) => void): CommandModule<object, CompareArgs> {
  return {
    command: 'compare <a> <b>',
    describe: 'Compare two benches (run folders) figure by figure: the change and whether it stands out from run-to-run noise',
    builder: (y) =>
      (y as Argv<object>)
        .positional('a', { type: 'string', demandOption: true, describe: 'the baseline bench: a run folder (store/NAME/TIMESTAMP)' })
        .positional('b', { type: 'string', demandOption: true, describe: 'the bench to judge against it' })
        .option('alpha', { type: 'number', default: 0.05, describe: 'significance level of the rank test' })
        .option('threshold', { type: 'number', default: 0.1, describe: 'smallest relative change of the medians worth flagging (0.1 = 10%)' })
        .option('html', { type: 'string', describe: "where to write the comparison's page (default: compare.html in B's folder)" })
        .option('store', { type: 'string', default: DEFAULT_STORE, describe: 'the store' }) as unknown as Argv<CompareArgs>,
    handler: (args) => {
      if (!(args.alpha > 0 && args.alpha < 1)) throw new InputError(`--alpha must be between 0 and 1, got ${args.alpha}`);
      if (!(args.threshold >= 0)) throw new InputError(`--threshold must be >= 0, got ${args.threshold}`);
      const a = readBench(args.a, args.store);
      const b = readBench(args.b, args.store);
      const cmp = compareBenches(a.bench, b.bench, { a: a.dir, b: b.dir }, { alpha: args.alpha, threshold: args.threshold });
      const html = args.html ?? join(b.dir, 'compare.html');
      writeFileSync(html, renderCompareHtml(cmp));
      process.stdout.write(`${compareText(cmp)}page: ${html}\n`);
      setExit(cmp.rows.some((r) => r.verdict === 'worse') ? 1 : 0);
    },
  };
}

export function benchCommand(setExit: (code: number) => void): CommandModule<object, BenchArgs> {
  return {
    command: 'bench',
    describe: 'Benchmark a system: closed loops per concurrency, open loops per rate; bench.json and bench.html in the store (and: bench compare A B)',
    builder: (y) =>
      benchFlags(y.command(compareCommand(setExit)))
        .example('$0 bench --concurrency 1,4,16,64 --duration 10 --repeat 3', 'closed loops of the reference system, 3 runs of each point')
        .example('$0 bench --concurrency none --rate 1000,2000,4000 --open-clients 32', 'open loops: latency from the intended start of each op')
        .example('$0 bench --system etcd --concurrency 32 --duration 5', 'etcd through its adapter')
        .example(
          '$0 bench --nemesis kill --targets primary --concurrency 16 --duration 20 --repeat 1',
          "a primary killed in each point's window: availability and the time until the system serves again",
        )
        .example(
          '$0 bench compare store/bench-register/20261202T072300.446Z store/latest',
          'did the latest bench get slower than an earlier one beyond the noise?',
        ) as unknown as Argv<BenchArgs>,
    handler: async (args) => {
      const config = benchConfig(args);
      // What the faults need of this machine (iptables, tc, libfaketime, a C compiler): one line now, not a failed fault later.
      await checkMachine({ provider: config.provider, nemesis: config.faults.nemesis, packet: config.faults.packet });
      const provider = await PROVIDERS[config.provider]();
      const { stop, release } = onInterrupt('stopping the clients and tearing the cluster down; the points measured so far are kept');
      try {
        const outcome = await runBench(config, provider, stop.signal);
        process.stdout.write(`bench: ${join(outcome.dir, 'bench.html')}\n`);
        if (outcome.result.failure) {
          process.stderr.write(`undertow: the bench failed: ${outcome.result.failure} (details in ${join(outcome.dir, 'harness.log')})\n`);
          setExit(255);
        }
      } finally {
        release();
      }
    },
  };
}
