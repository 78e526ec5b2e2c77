// `undertow bench`'s flags and the bench as run (bench.json's `config`). The
// system, provider, store and fault flags are `undertow test`'s (systemFlags,
// nemesisFlags), so a system and its faults are named and configured the same
// way for a test and a bench.

import type { Argv } from 'yargs';
import { DEFAULT_SYSTEM } from '../../adapters/index.js';
import { InputError } from '../../history/input-error.js';
import { WORKLOADS } from '../../workloads/index.js';
import { deploySystem } from '../run/deploy.js';
import {
  faultSettings,
  nemesisFlags,
  positive,
  positiveInt,
  SIM_PROVIDER,
  systemFlags,
  systemOptionsOf,
  type FaultSettings,
  type NemesisArgs,
  type SystemArgs,
} from '../run/test-flags.js';

export interface BenchConfig {
  name: string;
  system: string;
  systemOptions: Record<string, string>;
  provider: string;
  nodes: number;
  bugs: string[];
  workload: string;
  /** A closed loop at full speed for each. */
  concurrency: number[];
  /** An open loop for each (ops per second over all clients). */
  rates: number[];
  /** Clients serving an open loop. */
  openClients: number;
  durationS: number;
  warmupS: number;
  repeat: number;
  keys: number;
  readFraction: number;
  opTimeoutMs: number;
  seed: number;
  store: string;
  /** Faults in every point's window (none when `faults.nemesis` is empty): `undertow test`'s fault flags. */
  faults: FaultSettings;
}

export interface BenchArgs extends SystemArgs, NemesisArgs {
  workload: string;
  concurrency: string;
  rate: string;
  'open-clients': number;
  duration: number;
  warmup: number;
  repeat: number;
  keys: number;
  reads: number;
  'op-timeout': number;
  seed?: number;
  name?: string;
}

/** The workloads that can be benchmarked (they give bench ops). */
export const BENCH_WORKLOADS = Object.values(WORKLOADS)
  .filter((w) => w.bench !== undefined)
  .map((w) => w.name);

/** "1,4,16" to numbers, each checked; "" or "none" is no point. */
function numberList(text: string, flag: string, integer: boolean): number[] {
  if (text.trim() === '' || text.trim() === 'none') return [];
  return [
    ...new Set(
      text.split(',').map((s) => {
        const v = Number(s.trim());
        if (integer) positiveInt(flag, v);
        else positive(flag, v);
        return v;
      }),
    ),
  ];
}

export function benchConfig(a: BenchArgs): BenchConfig {
  // Virtual time has no wall-clock latency or CPU to measure.
  if (a.provider === SIM_PROVIDER)
    throw new InputError('--provider sim runs undertow test in virtual time; a bench measures real time', {}, 'use --provider local or docker');
  const systemOptions = systemOptionsOf(a);
  if (!BENCH_WORKLOADS.includes(a.workload))
    throw new InputError(`workload ${JSON.stringify(a.workload)} cannot be benchmarked`, {}, `use one of: ${BENCH_WORKLOADS.join(', ')}`);
  const concurrency = numberList(a.concurrency, 'concurrency', true);
  const rates = numberList(a.rate, 'rate', false);
  if (concurrency.length + rates.length === 0)
    throw new InputError('nothing to measure: --concurrency and --rate are both empty', {}, 'e.g. --concurrency 1,4,16');
  positiveInt('open-clients', a['open-clients']);
  positive('duration', a.duration);
  if (!(a.warmup >= 0)) throw new InputError(`--warmup must be >= 0 seconds, got ${a.warmup}`);
  positiveInt('repeat', a.repeat);
  positiveInt('keys', a.keys);
  if (!(a.reads >= 0 && a.reads <= 1)) throw new InputError(`--reads must be a fraction between 0 and 1, got ${a.reads}`);
  positive('op-timeout', a['op-timeout']);
  if (a.seed !== undefined && !Number.isSafeInteger(a.seed)) throw new InputError(`--seed must be an integer, got ${a.seed}`);
  const faults = faultSettings(a);
  // A point's faults start after one --nemesis-interval of quiet and stop one before its window ends (to see the
  // recovery): a window of two intervals or less would hold no fault.
  if (faults.nemesis.length > 0 && a.duration <= 2 * faults.nemesisInterval)
    throw new InputError(
      `--nemesis needs --duration above twice --nemesis-interval (${faults.nemesisInterval} s of quiet before the first fault, ${faults.nemesisInterval} s after the last to see the recovery), got --duration ${a.duration}`,
      {},
      `e.g. --duration ${Math.ceil(4 * faults.nemesisInterval)}, or a shorter --nemesis-interval`,
    );
  // Unknown options, bugs, a workload or a fault the system cannot take: one line now, not after the cluster started.
  deploySystem({ system: a.system, nodes: a.nodes, options: systemOptions, bugs: a.bug, workload: a.workload, faults: faults.nemesis });
  return {
    name: a.name ?? `bench-${a.system === DEFAULT_SYSTEM ? '' : `${a.system}-`}${a.workload}${faults.nemesis.length > 0 ? `-${faults.nemesis.join('-')}` : ''}`,
    system: a.system,
    systemOptions,
    provider: a.provider,
    nodes: a.nodes,
    bugs: a.bug,
    workload: a.workload,
    concurrency,
    rates,
    openClients: a['open-clients'],
    durationS: a.duration,
    warmupS: a.warmup,
    repeat: a.repeat,
    keys: a.keys,
    readFraction: a.reads,
    opTimeoutMs: Math.round(a['op-timeout'] * 1000),
    seed: a.seed ?? Math.floor(Math.random() * 2 ** 31),
    store: a.store,
    faults,
  };
}

export function benchFlags(y: Argv): Argv<BenchArgs> {
  return nemesisFlags(systemFlags(y))
    .option('workload', {
      alias: 'w',
      type: 'string',
      default: 'register',
      describe: `whose ops: ${BENCH_WORKLOADS.join(', ')} (reads and writes/appends over --keys keys)`,
    })
    .option('concurrency', {
      alias: 'c',
      type: 'string',
      default: '1,4,16,64',
      describe: 'a closed loop at full speed for each number of clients (comma list; none for no closed loops)',
    })
    .option('rate', {
      type: 'string',
      default: '',
      describe: "an open loop for each rate, ops/s over all clients (comma list); latency counts from each op's intended start",
    })
    .option('open-clients', { type: 'number', default: 32, describe: 'clients serving each open loop' })
    .option('duration', { type: 'number', default: 10, describe: 'seconds measured per point' })
    .option('warmup', { type: 'number', default: 2, describe: 'seconds run and discarded before each point' })
    .option('repeat', { type: 'number', default: 3, describe: 'runs of every point, interleaved (compare needs several to tell a change from noise)' })
    .option('keys', { type: 'number', default: 1000, describe: 'keys, drawn uniformly' })
    .option('reads', { type: 'number', default: 0.5, describe: 'the share of reads (the rest: writes, or appends)' })
    .option('op-timeout', { type: 'number', default: 3, describe: 'seconds before an op is counted as unknown (info)' })
    .option('seed', { type: 'number', describe: 'seed of the op mix (default: random, recorded in bench.json)' })
    .option('name', { type: 'string', describe: 'the run folder name (default: bench-WORKLOAD)' }) as unknown as Argv<BenchArgs>;
}
