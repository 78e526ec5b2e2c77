// `undertow test`'s flags, apart from the command: the yargs options with
// their defaults and help, and how parsed flags become a TestConfig (every
// mistake one InputError line). The command (harness/commands/test.ts) and
// campaigns (harness/campaign/, each cell a set of the same flags) share
// them, so a campaign cell means exactly what the command line means.

import type { Argv } from 'yargs';
import { DEFAULT_SYSTEM, SYSTEMS, systemNamed } from '../../adapters/index.js';
import { InputError } from '../../history/input-error.js';
import { faketimeLibrary } from '../../nemesis/clock.js';
import { ALL_TARGETS, FAULT_KINDS, PARTITIONS, TARGETS, type FaultKind, type PartitionShape, type Target } from '../../nemesis/faults.js';
import { iptablesUsable } from '../../nemesis/iptables.js';
import { cCompiler, powerShim } from '../../nemesis/power.js';
import { CORRUPTIONS, type Corruption } from '../../nemesis/corrupt.js';
import { hostTc, PACKET_KINDS, packetUsable, rootFree, type PacketKind } from '../../nemesis/packet.js';
import { DEFAULT_STORE } from '../../results/store.js';
import { WORKLOAD_NAMES } from '../../workloads/index.js';
import type { Provider } from '../core/provider.js';
import { localProvider } from '../providers/local.js';
import { deploySystem, parseOpts } from './deploy.js';
import type { TestConfig } from './run-test.js';

export const PROVIDERS: Record<string, () => Promise<Provider>> = {
  local: async () => localProvider(),
  // Loaded only when asked for; a missing engine is one line and exit 254 before the run starts.
  docker: async () => {
    const { connectEngine } = await import('../../docker/engine.js');
    await connectEngine();
    return (await import('../../docker/provider.js')).dockerProvider();
  },
};

/** The provider that runs the system's own simulation in virtual time (harness/run/run-sim.ts), not a Provider of nodes. */
export const SIM_PROVIDER = 'sim';

/** The flags that say which system runs where: `undertow test`'s and `undertow bench`'s. */
export interface SystemArgs {
  system: string;
  opt: string[];
  provider: string;
  nodes: number;
  'cm-nodes'?: number;
  groups?: number;
  replication?: number;
  'lease-ms'?: number;
  'grace-ms'?: number;
  bug: string[];
  store: string;
}

/** The flags that say which faults a run has: `undertow test`'s and `undertow bench`'s. */
export interface NemesisArgs {
  nemesis: string;
  partitions: string;
  /** Packet fault kinds, a comma list (default: all). */
  packet?: string;
  /** What corrupt faults do, a comma list (default: all). */
  corruptions?: string;
  targets: string;
  'nemesis-interval': number;
  'nemesis-overlap': boolean;
}

/** The faults of a run, parsed: what the fault schedule (faultGenerator) and checkMachine take. */
export interface FaultSettings {
  nemesis: FaultKind[];
  partitions: PartitionShape[];
  packet: PacketKind[];
  corruptions: Corruption[];
  targets: Target[];
  /** Seconds of quiet before each fault, and the mean time one is held. */
  nemesisInterval: number;
  nemesisOverlap: boolean;
}

export interface TestArgs extends SystemArgs, NemesisArgs {
  workload: string;
  concurrency: number;
  rate: number;
  'time-limit': number;
  quiet: number;
  'op-timeout': number;
  seed?: number;
  'test-count': number;
  name?: string;
  keys: number;
  'ops-per-key': number;
  reads: number;
  /** --provider sim: run again the test stored in this run folder. */
  replay?: string;
  /** --provider sim: seconds to search for a smaller failing run when a run is invalid (0: none). */
  'shrink-budget'?: number;
  /** --provider sim with --test-count above 1: worker threads (default: every core). */
  threads?: number;
}

export const positiveInt = (name: string, v: number, min = 1) => {
  if (!Number.isInteger(v) || v < min) throw new InputError(`--${name} must be an integer >= ${min}, got ${v}`);
};
export const positive = (name: string, v: number) => {
  if (!(Number.isFinite(v) && v > 0)) throw new InputError(`--${name} must be a positive number, got ${v}`);
};

/** A comma list of names from `known`, duplicates dropped; an unknown name is one InputError line. */
function parseList<T extends string>(text: string, known: readonly T[], flag: string, what: string, orNone = ''): T[] {
  const names = text.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!(known as readonly string[]).includes(n))
      throw new InputError(`unknown ${what} ${JSON.stringify(n)} in --${flag}`, {}, `use a comma list of: ${known.join(', ')}${orNone}`);
  }
  return [...new Set(names)] as T[];
}

export const parseNemesis = (text: string): FaultKind[] =>
  text.trim() === '' || text === 'none' ? [] : parseList(text, FAULT_KINDS, 'nemesis', 'fault', ' (or none)');
export const parsePartitions = (text: string): PartitionShape[] => parseList(text, PARTITIONS, 'partitions', 'partition');
export const parsePacket = (text: string): PacketKind[] => parseList(text, PACKET_KINDS, 'packet', 'packet fault');
export const parseCorruptions = (text: string): Corruption[] => parseList(text, CORRUPTIONS, 'corruptions', 'corruption');
/** `cm-leader`, the name before systems other than the reference one, is `leader`. */
export const parseTargets = (text: string): Target[] => [...new Set(parseList(text.replace(/\bcm-leader\b/g, 'leader'), ALL_TARGETS, 'targets', 'target'))];

/**
 * The reference system's own flags, kept as shorthands for its options
 * (--cm-nodes 5 is --opt cm-nodes=5); with another system they are refused.
 */
const REFERENCE_SHORTHANDS = ['cm-nodes', 'groups', 'replication', 'lease-ms', 'grace-ms'] as const;

/** The provider, the system and its options (shorthands folded in), checked; every mistake is one InputError line. */
export function systemOptionsOf(a: SystemArgs): Record<string, string> {
  if (!(a.provider in PROVIDERS) && a.provider !== SIM_PROVIDER)
    throw new InputError(`unknown provider ${JSON.stringify(a.provider)}`, {}, `use one of: ${[...Object.keys(PROVIDERS), SIM_PROVIDER].join(', ')}`);
  positiveInt('nodes', a.nodes);
  systemNamed(a.system);
  const systemOptions = parseOpts(a.opt);
  for (const flag of REFERENCE_SHORTHANDS) {
    const v = a[flag];
    if (v === undefined) continue;
    if (a.system !== 'reference')
      throw new InputError(`--${flag} is the reference system's; system ${a.system} does not take it`, {}, `see its options with undertow test --help`);
    positiveInt(flag, v);
    if (Object.hasOwn(systemOptions, flag)) throw new InputError(`--${flag} and --opt ${flag}= are the same setting: give one`);
    systemOptions[flag] = String(v);
  }
  return systemOptions;
}

/** Flags to a TestConfig; every mistake is one InputError line. */
export function testConfig(a: TestArgs): TestConfig {
  const systemOptions = systemOptionsOf(a);
  positiveInt('concurrency', a.concurrency);
  positive('rate', a.rate);
  positive('time-limit', a['time-limit']);
  if (!(a.quiet >= 0)) throw new InputError(`--quiet must be >= 0 seconds, got ${a.quiet}`);
  positive('op-timeout', a['op-timeout']);
  positiveInt('test-count', a['test-count']);
  positiveInt('keys', a.keys);
  positiveInt('ops-per-key', a['ops-per-key']);
  if (!(a.reads >= 0 && a.reads <= 1)) throw new InputError(`--reads must be a fraction between 0 and 1, got ${a.reads}`);
  if (a.seed !== undefined && !Number.isSafeInteger(a.seed)) throw new InputError(`--seed must be an integer, got ${a.seed}`);
  if (!WORKLOAD_NAMES.includes(a.workload))
    throw new InputError(`unknown workload ${JSON.stringify(a.workload)}`, {}, `use one of: ${WORKLOAD_NAMES.join(', ')}`);
  const faults = faultSettings(a);
  const nemesis = faults.nemesis;
  // Every system mistake (unknown system, option, bug, a workload or fault it cannot take) is one line now, not at run time.
  deploySystem({ system: a.system, nodes: a.nodes, options: systemOptions, bugs: a.bug, workload: a.workload, faults: nemesis });
  const prefix = a.system === DEFAULT_SYSTEM ? '' : `${a.system}-`;
  return {
    name: a.name ?? `${prefix}${a.workload}${nemesis.length > 0 ? `-${nemesis.join('-')}` : ''}${a.bug.length > 0 ? `-bug-${a.bug.join('-')}` : ''}`,
    system: a.system,
    systemOptions,
    workload: a.workload,
    provider: a.provider,
    ...faults,
    nodes: a.nodes,
    concurrency: a.concurrency,
    rate: a.rate,
    timeLimit: a['time-limit'],
    quiet: a.quiet,
    opTimeoutMs: Math.round(a['op-timeout'] * 1000),
    seed: a.seed ?? Math.floor(Math.random() * 2 ** 31),
    bugs: a.bug,
    keys: a.keys,
    opsPerKey: a['ops-per-key'],
    readFraction: a.reads,
    store: a.store,
  };
}

/** The fault flags parsed; every mistake is one InputError line. */
export function faultSettings(a: NemesisArgs): FaultSettings {
  positive('nemesis-interval', a['nemesis-interval']);
  const nemesis = parseNemesis(a.nemesis);
  const targets = parseTargets(a.targets);
  // `all` (every node at once) is for kill, pause and power; corrupt and packet faults aim at one node or a subset.
  const allBlind = nemesis.filter((k) => k === 'corrupt' || k === 'packet');
  if (targets.includes('all') && allBlind.length > 0)
    throw new InputError(
      `--targets all is for kill, pause and power; ${allBlind.join(' and ')} cannot aim at every node at once`,
      {},
      'aim them at random, primary or leader',
    );
  return {
    nemesis,
    partitions: parsePartitions(a.partitions),
    packet: parsePacket(a.packet ?? PACKET_KINDS.join(',')),
    corruptions: parseCorruptions(a.corruptions ?? CORRUPTIONS.join(',')),
    targets,
    nemesisInterval: a['nemesis-interval'],
    nemesisOverlap: a['nemesis-overlap'],
  };
}

/**
 * What the faults need from this machine, checked before anything starts: a
 * missing piece is one line and exit 254, not a failed fault in the middle of a run.
 */
export async function checkMachine(test: Pick<TestConfig, 'provider' | 'nemesis' | 'packet'>): Promise<void> {
  // The simulation needs nothing of the machine: its faults are simulated.
  if (test.provider === SIM_PROVIDER) return;
  if (test.provider === 'local' && test.nemesis.includes('partition')) {
    const usable = await iptablesUsable();
    if (!usable.ok) throw new InputError(`--nemesis partition on the local provider: ${usable.why}`);
  }
  if (test.nemesis.includes('packet')) {
    const usable = await packetUsable(test.packet);
    if (!usable.ok) throw new InputError(`--nemesis packet: ${usable.why}`, {}, usable.fix);
    const foreign = test.provider === 'local' ? await rootFree(hostTc(), 'lo') : null;
    if (foreign !== null)
      throw new InputError(`--nemesis packet on the local provider: ${foreign}`, {}, 'remove it (tc qdisc del dev lo root) or use --provider docker');
  }
  if (test.nemesis.includes('clock') && faketimeLibrary() === null) {
    throw new InputError('--nemesis clock needs libfaketime, which is not installed', {}, 'apt-get install -y faketime');
  }
  if (test.nemesis.includes('power')) {
    if ((await cCompiler()) === null)
      throw new InputError(
        '--nemesis power needs a C compiler to build its LD_PRELOAD shim, and none runs (cc, gcc, $CC)',
        {},
        'apt-get install -y gcc libc6-dev',
      );
    // Built (or found in the cache) now: a failed build is one line before the run, not a failed fault in it.
    await powerShim().catch((e: unknown) => {
      throw new InputError(`--nemesis power: ${e instanceof Error ? e.message : String(e)}`, {}, 'apt-get install -y gcc libc6-dev');
    });
  }
}

const systemsHelp = () =>
  Object.values(SYSTEMS)
    .map((s) => `${s.name} (${s.summary})`)
    .join('; ');
const optionsHelp = () =>
  Object.values(SYSTEMS)
    .map(
      (s) =>
        `${s.name}: ${
          Object.entries(s.options)
            .map(([k, o]) => `${k} (${o.describe}${o.default !== '' ? `; default ${o.default}` : ''})`)
            .join(', ') || 'none'
        }`,
    )
    .join('; ');
const bugsHelp = () =>
  Object.values(SYSTEMS)
    .map((s) => `${s.name}: ${s.bugs.map((b) => b.name).join(', ') || 'none'}`)
    .join('; ');

/** Which system runs where: the options `undertow test` and `undertow bench` share. */
export function systemFlags(y: Argv): Argv<SystemArgs> {
  return y
    .option('system', { type: 'string', default: DEFAULT_SYSTEM, describe: `the system under test: ${systemsHelp()}` })
    .option('opt', { type: 'string', array: true, default: [] as string[], describe: `a system option KEY=VALUE (repeatable): ${optionsHelp()}` })
    .option('provider', {
      type: 'string',
      default: 'local',
      describe:
        'where the cluster runs: local (processes on 127.0.0.x), docker, or sim (undertow test only: the system simulated in one process, in virtual time; exact replay by seed)',
    })
    .option('nodes', { type: 'number', default: 3, describe: "the system's nodes (the reference system's data servers, etcd's members)" })
    .option('cm-nodes', { type: 'number', describe: 'reference system: configuration manager (Raft) nodes (--opt cm-nodes=N; default 3)' })
    .option('groups', { type: 'number', describe: 'reference system: replication groups (--opt groups=N; default 3)' })
    .option('replication', { type: 'number', describe: 'reference system: replicas per group (--opt replication=N; default 3)' })
    .option('lease-ms', { type: 'number', describe: 'reference system: lease period of the data servers (ms; --opt lease-ms=N)' })
    .option('grace-ms', { type: 'number', describe: 'reference system: grace period of the data servers (ms, >= lease; --opt grace-ms=N)' })
    .option('bug', { type: 'string', array: true, default: [] as string[], describe: `seeded bugs to switch on: ${bugsHelp()}` })
    .option('store', { type: 'string', default: DEFAULT_STORE, describe: 'where runs are written (store/NAME/TIMESTAMP)' }) as unknown as Argv<SystemArgs>;
}

/** Which faults a run has: the options `undertow test` and `undertow bench` share. */
export function nemesisFlags<T>(y: Argv<T>): Argv<T & NemesisArgs> {
  return y
    .option('nemesis', { type: 'string', default: 'none', describe: `faults, a comma list: ${FAULT_KINDS.join(', ')} (or none)` })
    .option('partitions', {
      type: 'string',
      default: PARTITIONS.join(','),
      describe:
        'partition shapes to draw from: halves (random halves), one (one node alone), follower (one node that does not lead alone, the leader in the majority), primary (a primary cut from its secondaries), primary-alone (a primary cut from every node; clients still reach it), secondary (a secondary cut from its primary only), ring (majorities ring), bridge',
    })
    .option('packet', {
      type: 'string',
      default: PACKET_KINDS.join(','),
      describe:
        "what --nemesis packet does to the chosen nodes' outgoing packets (tc; each fault draws one or more): delay (50-500 ms with jitter), loss (5-30%), duplicate (5-30%), reorder (10-50%, with a delay), rate (a limit of 256 kbit/s to 8 Mbit/s); all but rate need the kernel's netem",
    })
    .option('corruptions', {
      type: 'string',
      default: CORRUPTIONS.join(','),
      describe:
        "what --nemesis corrupt does to the stopped node's data (each fault draws one): bitflip (1-8 bits flipped in one file), truncate (the last 1-50% of one file's data cut off: lost fsynced data, which few systems survive). Damage stays on a minority of each role's nodes in a run, never the last undamaged replica of a group",
    })
    .option('targets', {
      type: 'string',
      default: TARGETS.join(','),
      describe:
        "whom kill, pause, power, corrupt and packet faults aim at: random (any node; packet: a random subset), primary (of a group), leader (the cluster's: the reference system's CM leader, etcd's leader; cm-leader is the same), all (every node at once, for power only; not in the default: --nemesis power --targets all is a whole cluster losing power)",
    })
    .option('nemesis-interval', {
      type: 'number',
      default: 5,
      describe: 'seconds of quiet before each fault, and the mean time a fault is held (a quarter of kills restart at once)',
    })
    .option('nemesis-overlap', {
      type: 'boolean',
      default: false,
      describe: 'each fault kind on its own schedule, so faults of different kinds are in force at once (default: one fault at a time)',
    }) as unknown as Argv<T & NemesisArgs>;
}

/** `undertow test`'s options, with their defaults and help. */
export function testFlags(y: Argv): Argv<TestArgs> {
  return nemesisFlags(systemFlags(y))
    .option('workload', { alias: 'w', type: 'string', default: 'register', describe: `what the clients do: ${WORKLOAD_NAMES.join(', ')}` })
    .option('shrink-budget', {
      type: 'number',
      default: 60,
      describe:
        '--provider sim: when the run is invalid, seconds to search for a smaller failing run, written to RUN_DIR/shrunk (0: no search; not with --test-count above 1)',
    })
    .option('threads', { type: 'number', describe: '--provider sim with --test-count above 1: seeds run on this many worker threads (default: every core)' })
    .option('replay', { type: 'string', describe: '--provider sim: run the test of this run folder again (its test.json) and compare the histories' })
    .option('concurrency', { alias: 'c', type: 'number', default: 10, describe: 'client processes' })
    .option('rate', { type: 'number', default: 100, describe: 'client ops per second, over all processes' })
    .option('time-limit', { type: 'number', default: 30, describe: 'seconds of ops and faults (then heal, quiet, final reads)' })
    .option('quiet', { type: 'number', default: 5, describe: 'seconds of quiet after healing, before the final reads' })
    .option('op-timeout', { type: 'number', default: 3, describe: 'seconds before an op is recorded as info (unknown)' })
    .option('seed', { type: 'number', describe: 'seed of the generators and the nemesis (default: random, recorded in test.json)' })
    .option('test-count', { type: 'number', default: 1, describe: 'run the test this many times (a new seed each)' })
    .option('name', { type: 'string', describe: 'the run folder name (default: from the workload, faults and bugs)' })
    .option('keys', { type: 'number', default: 4, describe: 'register/append/version-register: keys in use at a time' })
    .option('ops-per-key', { type: 'number', default: 100, describe: 'register/append/version-register: about this many ops per key before it is retired' })
    .option('reads', {
      type: 'number',
      default: 1 / 3,
      describe: 'register, version-register: the share of reads (the rest is split between write and cas; version-register: all cas)',
    })
    .example('$0 test --workload register --nemesis kill,pause --time-limit 30', 'a short test with faults')
    .example(
      '$0 test --nemesis pause --targets primary --bug read-without-lease',
      'a seeded bug of the reference system: a paused primary, replaced, answers reads once it resumes',
    )
    .example('$0 test --nemesis packet --packet delay,loss', "packet faults: the chosen nodes' packets delayed and dropped (tc netem)")
    .example(
      '$0 test --system etcd --nemesis partition --partitions one --opt reads=serializable',
      "etcd's serializable reads under partitions",
    ) as unknown as Argv<TestArgs>;
}
