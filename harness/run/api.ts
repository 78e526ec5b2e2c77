// The library's way to run a test, as Jepsen's test is a value: a plain
// object in, the verdict and the run's folder out. Everything the CLI's
// `undertow test` does (the same defaults, the same checks, the same run
// folder), callable from a user's own test suite with a user's own adapter.

import type { Verdict } from '../../checkers/index.js';
import type { RunResults } from './analysis.js';
import { PARTITIONS } from '../../nemesis/faults.js';
import { PACKET_KINDS } from '../../nemesis/packet.js';
import { InputError } from '../../history/input-error.js';
import type { Provider } from '../core/provider.js';
import type { SystemAdapter } from '../core/system.js';
import { localProvider } from '../providers/local.js';
import { deploySystem } from './deploy.js';
import { runTest as runOne, type RunOutcome, type TestConfig } from './run-test.js';

/** A test: what `undertow test` takes, as a value. Only `workload` is required; the rest default as on the command line. */
export interface TestDefinition extends Partial<Omit<TestConfig, 'system'>> {
  workload: string;
  /** A registered system's name (default `reference`), or an adapter of your own. */
  system?: string | SystemAdapter;
  /** `local` (default) or `docker`, or a provider of your own. */
  provider?: string;
  providerImpl?: Provider;
  /** Stops the run early (Ctrl-C does the same on the CLI); what was recorded is still checked. */
  signal?: AbortSignal;
  /** Where progress lines go (default: nowhere). */
  out?: NodeJS.WritableStream;
}

export interface TestResult {
  verdict: Verdict;
  /** The run's folder: test.json, history.jsonl, results.json, report.html. */
  runDir: string;
  /** Every checker's result, and `coverage`: what the faults achieved. */
  results: RunResults | null;
  /** The harness itself failed (not the system under test). */
  failure: string | null;
  outcome: RunOutcome;
}

/** The CLI's defaults (`undertow test --help`). */
export const TEST_DEFAULTS: Omit<TestConfig, 'workload' | 'name' | 'seed'> = {
  system: 'reference',
  systemOptions: {},
  provider: 'local',
  nemesis: [],
  partitions: [...PARTITIONS],
  packet: [...PACKET_KINDS],
  targets: ['random', 'primary', 'leader'],
  nodes: 3,
  concurrency: 10,
  rate: 100,
  timeLimit: 30,
  nemesisInterval: 5,
  nemesisOverlap: false,
  quiet: 5,
  opTimeoutMs: 3000,
  bugs: [],
  keys: 4,
  opsPerKey: 100,
  readFraction: 1 / 3,
  store: 'store',
};

/** Runs one test and checks it: the verdict (valid, invalid, unknown) and where everything was written. */
export async function runTest(t: TestDefinition): Promise<TestResult> {
  const adapter = typeof t.system === 'object' ? t.system : undefined;
  const { system: _s, providerImpl, signal, out, ...rest } = t;
  const test: TestConfig = {
    ...TEST_DEFAULTS,
    ...rest,
    system: adapter?.name ?? (t.system as string | undefined) ?? TEST_DEFAULTS.system,
    name: t.name ?? `${adapter?.name ?? (t.system as string | undefined) ?? 'reference'}-${t.workload}`,
    seed: t.seed ?? Math.floor(Math.random() * 2 ** 31),
  };
  // The same checks as the CLI's: one InputError for a mistake, before anything starts.
  deploySystem({
    system: test.system,
    adapter,
    nodes: test.nodes,
    options: test.systemOptions,
    bugs: test.bugs,
    workload: test.workload,
    faults: test.nemesis,
  });
  let provider = providerImpl;
  if (!provider) {
    if (test.provider === 'local') provider = localProvider();
    else if (test.provider === 'docker') provider = (await import('../../docker/provider.js')).dockerProvider();
    else throw new InputError(`unknown provider ${JSON.stringify(test.provider)}`, {}, 'use local or docker');
  }
  const outcome = await runOne(test, provider, signal ?? new AbortController().signal, { adapter, out: out ?? devNull() });
  return { verdict: outcome.results?.verdict ?? 'unknown', runDir: outcome.paths.dir, results: outcome.results, failure: outcome.failure, outcome };
}

function devNull(): NodeJS.WritableStream {
  return { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;
}
