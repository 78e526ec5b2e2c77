// One test run, start to verdict: make the run's folder, start the cluster,
// run the workload with its faults, heal, wait, do the final reads, tear the
// cluster down, check the history, and write results.json and report.html.
//
// Nothing is lost: every op is on disk as it happens (the recorder), the
// cluster is torn down in `finally` (and killed on process exit), and a run
// that is interrupted (Ctrl-C) or whose harness fails is still checked on
// whatever it recorded.

import { resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { faultsNemesis, type FaultKind, type PartitionShape, type Target } from '../../nemesis/faults.js';
import { faultSchedule, HEAL_ALL } from '../../nemesis/schedule.js';
import type { PacketKind } from '../../nemesis/packet.js';
import type { Corruption } from '../../nemesis/corrupt.js';
import { createRun, writeJson, type RunPaths } from '../../results/store.js';
import { workloadNamed } from '../../workloads/index.js';
import type { Client, Nemesis } from '../core/client.js';
import {
  clients,
  clientsAndNemesis,
  nemesis as onNemesis,
  phases,
  sequence,
  sleep,
  stagger,
  timeLimit,
  type GenLike,
  type OpSpec,
} from '../core/generator/index.js';
import type { Value } from '../../history/types.js';
import { undertowVersion } from '../core/project-root.js';
import type { Cluster, ClusterSpec, NodeInfo, Provider } from '../core/provider.js';
import type { Deployment, SystemAdapter, SystemView } from '../core/system.js';
import type { TestSpec, Workload } from '../core/workload.js';
import { Recorder } from '../core/recorder.js';
import { analyzeRun, writeResults, type RunResults } from './analysis.js';
import { checkNodeLogs, corruptedNodes, COVERAGE_FILE, readNodeLogs, storedCoverage, ViewSampler, type StoredCoverage } from './coverage.js';
import { deploySystem } from './deploy.js';
import { Progress } from './progress.js';
import { runWorkers, type RunSummary } from './workers.js';
import { watchOver } from './reaper.js';

/** The test as run: test.json. A plain value, printable, replayable by seed. */
export interface TestConfig extends TestSpec {
  name: string;
  /** The system under test (an adapter's name) and its options (--opt), as given. */
  system: string;
  systemOptions: Record<string, string>;
  provider: string;
  nemesis: FaultKind[];
  /** Partition shapes the partition fault draws from. */
  partitions: PartitionShape[];
  /** What packet faults draw from (delay, loss, duplicate, reorder, rate). */
  packet: PacketKind[];
  /** What corrupt faults draw from (bitflip, truncate); absent in runs recorded before it existed: both. */
  corruptions?: Corruption[];
  /** Whom kill, pause, power, corrupt and packet faults aim at. */
  targets: Target[];
  /** The system's nodes of its main role (the reference system's data servers, etcd's members). */
  nodes: number;
  concurrency: number;
  /** Client ops per second over all workers. */
  rate: number;
  /** Seconds of the main phase (ops and faults). */
  timeLimit: number;
  /** Seconds between faults, and how long each is held. */
  nemesisInterval: number;
  /** Each fault kind on its own schedule, so that faults of different kinds overlap. */
  nemesisOverlap: boolean;
  /** Seconds of quiet after healing, before the final reads. */
  quiet: number;
  opTimeoutMs: number;
  seed: number;
  bugs: string[];
  keys: number;
  opsPerKey: number;
  /** register: the share of reads. */
  readFraction: number;
  store: string;
  /**
   * These fault ops at these times (ns since the start) instead of the seeded
   * schedule: what a shrunk run holds (harness/run/shrink.ts).
   */
  faultScript?: ScriptedFault[];
}

export interface ScriptedFault {
  atNs: number;
  f: string;
  value: Value;
}

export interface RunOutcome {
  paths: RunPaths;
  /** The checkers' verdicts, with `coverage` (what the faults achieved) when the cluster ran. */
  results: RunResults | null;
  summary: RunSummary | null;
  /** The harness itself failed (not the system under test). */
  failure: string | null;
  interrupted: boolean;
}

export interface RunOptions {
  /** Where the progress lines go (default stderr). */
  out?: NodeJS.WritableStream;
  /** The system's adapter, when it is not one `--system` names (a user's own). */
  adapter?: SystemAdapter;
}

export async function runTest(test: TestConfig, provider: Provider, stop: AbortSignal, o: RunOptions = {}): Promise<RunOutcome> {
  const out = o.out ?? process.stderr;
  const startedAt = new Date();
  const paths = createRun(test.store, test.name, startedAt);
  const runDir = resolve(paths.dir);
  const runId = `${startedAt.getTime().toString(36)}${process.pid.toString(36)}`.slice(-10);
  const workload = workloadNamed(test.workload).make({ keys: test.keys, opsPerKey: test.opsPerKey, rate: test.rate, readFraction: test.readFraction });
  const { deployment, options } = deploySystem({
    system: test.system,
    adapter: o.adapter,
    nodes: test.nodes,
    options: test.systemOptions,
    bugs: test.bugs,
    workload: test.workload,
    faults: test.nemesis,
  });
  const asRun = {
    ...test,
    systemOptions: options,
    systemSettings: deployment.settings,
    workloadOptions: workload.options,
    runId,
    startedAt: startedAt.toISOString(),
    versions: { undertow: undertowVersion(), node: process.version },
  };
  writeJson(paths.test, asRun);
  const log: Logger = pino({ base: { run: runId } }, pino.destination({ dest: paths.harnessLog, sync: true }));
  log.info({ test: asRun }, 'test starting');
  out.write(`undertow: ${test.name} (${test.system}; ${test.workload}; faults: ${test.nemesis.join(',') || 'none'}; ${test.provider}) in ${paths.dir}\n`);

  const recorder = new Recorder({ dir: paths.dir });
  const progress = new Progress(() => recorder.history, test.timeLimit, out);
  let cluster: Cluster | undefined;
  let summary: RunSummary | null = null;
  let failure: string | null = null;
  let sampler: ViewSampler | undefined;
  // A harness that dies without running `finally` (an uncaught error elsewhere) still kills its nodes.
  const onExit = () => (cluster as { teardownSync?: () => void } | undefined)?.teardownSync?.();
  process.once('exit', onExit);
  try {
    // Should this process die without cleaning up (SIGKILL), a reaper of its own removes its nodes within seconds.
    watchOver(provider.name, runDir);
    await provider.cleanupLeftovers();
    const spec: ClusterSpec = { deployment, runDir, runId, fakeClock: test.nemesis.includes('clock'), powerFaults: test.nemesis.includes('power') };
    const t0 = performance.now();
    cluster = await provider.up(spec, stop);
    log.info({ nodes: cluster.nodes, ms: Math.round(performance.now() - t0) }, 'cluster up');
    const nodes = cluster.nodes;
    const newClient = (): Client => deployment.client(test.workload, { nodes, opTimeoutMs: test.opTimeoutMs, workloadOptions: workload.options });
    if (workload.setup) await runSetup(workload.setup, newClient, deployment.clientNodes(nodes), stop, log);
    const view = deployment.view(nodes);
    // Fault coverage: who leads and who serves each group, through the run (harness/run/coverage.ts).
    sampler = new ViewSampler(view, () => recorder.now());
    sampler.start();
    const nemesis = runNemesis(cluster, view, deployment, test.seed + 1, (f, value) => log.info({ f, value }, 'fault'));
    const generator = testGenerator(test, workload, faultNodesOf(deployment, nodes), deployment.membership?.targets);
    progress.start();
    try {
      summary = await runWorkers({
        generator,
        concurrency: test.concurrency,
        seed: test.seed,
        nodes: deployment.clientNodes(nodes),
        newClient,
        nemesis,
        recorder,
        opTimeoutMs: test.opTimeoutMs,
        stop,
      });
    } finally {
      progress.stop();
      await sampler.stop();
      view.close();
    }
    log.info({ summary }, 'workload done');
    for (const e of summary.errors) log.warn(e);
  } catch (e) {
    // Ctrl-C while the cluster starts is an interruption, not a failure of the harness.
    if (!stop.aborted) failure = e instanceof Error ? e.message : String(e);
    log.error({ err: e }, stop.aborted ? 'interrupted' : 'the run failed');
  } finally {
    recorder.close();
    if (cluster) {
      await cluster.teardown().catch((e) => {
        failure ??= `teardown: ${e instanceof Error ? e.message : String(e)}`;
        log.error({ err: e }, 'teardown failed');
      });
    }
    process.removeListener('exit', onExit);
  }

  // What the faults achieved and what the nodes' logs say (the adapter's log checks), for the analysis.
  if (cluster) {
    let logs: StoredCoverage['logs'] = null;
    try {
      await sampler?.stop();
      if (deployment.logChecks)
        logs = checkNodeLogs(readNodeLogs(runDir, deployment.nodes), deployment.logChecks, {
          provider: test.provider,
          faults: test.nemesis,
          // The recorder's time 0 on CLOCK_MONOTONIC (process.hrtime), to microseconds: for messages only.
          monoStartMs: Number(process.hrtime.bigint()) / 1e6 - recorder.now() / 1e6,
          corrupted: corruptedNodes(recorder.history),
        });
      writeJson(resolve(runDir, COVERAGE_FILE), storedCoverage(sampler?.samples() ?? [], logs));
    } catch (e) {
      log.error({ err: e }, 'coverage and node-log checks failed');
    }
  }

  // Check whatever was recorded, also after a failure or an interruption;
  // with nothing recorded (stopped before the first op) there is nothing to judge.
  let results: RunResults | null = null;
  try {
    if (recorder.history.length > 0) results = await analyzeRun(paths, asRun);
    else writeResults(paths, asRun, [], (results = { checker: 'compose', verdict: 'unknown', valid: 'unknown', results: {} }));
  } catch (e) {
    failure ??= `checking the history: ${e instanceof Error ? e.message : String(e)}`;
    log.error({ err: e }, 'checking failed');
  }
  writeJson(paths.test, { ...asRun, endedAt: new Date().toISOString(), interrupted: stop.aborted, failure });
  log.info({ verdict: results?.verdict ?? null, failure }, 'test done');
  log.flush?.();
  return { paths, results, summary, failure, interrupted: stop.aborted };
}

/**
 * What a test runs, on any provider: the workload's ops bounded in time and
 * rate alongside the fault schedule, then heal everything, stay quiet, and
 * the final reads. `faultNodes` are the nodes the clock faults may skew.
 */
export function testGenerator(test: TestConfig, workload: Workload, faultNodes: readonly string[], memberTargets: readonly string[] | undefined): GenLike {
  const limitNs = test.timeLimit * 1e9;
  const schedule = test.faultScript !== undefined ? scripted(test.faultScript) : faultGenerator(test, faultNodes, memberTargets, test.seed + 2);
  return phases(
    clientsAndNemesis(timeLimit(limitNs, stagger(1e9 / test.rate, workload.generator)), timeLimit(limitNs, schedule)),
    onNemesis(HEAL_ALL),
    sleep(test.quiet * 1e9),
    clients(timeLimit(30e9, workload.final)),
  );
}

/** The seeded fault schedule of a run's fault settings (a test's, a bench point's); unbounded: bound it with timeLimit. */
export function faultGenerator(
  f: Pick<TestConfig, 'nemesis' | 'partitions' | 'packet' | 'targets' | 'nemesisInterval' | 'nemesisOverlap'> & { corruptions?: readonly Corruption[] },
  faultNodes: readonly string[],
  memberTargets: readonly string[] | undefined,
  seed: number,
): GenLike {
  return faultSchedule({
    kinds: f.nemesis,
    nodes: faultNodes,
    quietMs: f.nemesisInterval * 1000,
    partitions: f.partitions,
    packet: f.packet,
    corruptions: f.corruptions,
    targets: f.targets,
    memberTargets,
    holdMs: f.nemesisInterval * 1000,
    overlap: f.nemesisOverlap,
    seed,
  });
}

/** Faults alone for `limitNs`, then everything healed: the nemesis's part of a bench point (harness/bench/faults.ts). */
export function faultsThenHeal(
  f: Parameters<typeof faultGenerator>[0],
  faultNodes: readonly string[],
  memberTargets: readonly string[] | undefined,
  seed: number,
  limitNs: number,
): GenLike {
  return phases(onNemesis(timeLimit(limitNs, faultGenerator(f, faultNodes, memberTargets, seed))), onNemesis(HEAL_ALL));
}

/** A run's nemesis: the fault ops carried out on the cluster, roles from the system's view (nemesis/faults.ts). */
export function runNemesis(cluster: Cluster, view: SystemView, deployment: Deployment, seed: number, log: (f: string, value: unknown) => void): Nemesis {
  return faultsNemesis({ cluster, view, membership: deployment.membership?.faults, faultRoles: deployment.faultRoles, seed, log });
}

/** The nodes a fault may take: those of the deployment's fault roles (every node without them). */
export const faultNodesOf = (deployment: Pick<Deployment, 'faultRoles'>, nodes: readonly NodeInfo[]): string[] =>
  nodes.filter((n) => deployment.faultRoles === undefined || deployment.faultRoles.includes(n.role)).map((n) => n.name);

/** Each fault op at its time: a sleep from the previous one's time, then the op. */
function scripted(faults: readonly ScriptedFault[]): GenLike {
  let at = 0;
  const steps: GenLike[] = [];
  for (const f of faults) {
    if (f.atNs > at) steps.push(sleep(f.atNs - at));
    at = Math.max(at, f.atNs);
    steps.push({ f: f.f, value: f.value });
  }
  return sequence(steps);
}

/**
 * The workload's setup ops (the bank's opening balances), before the test and
 * outside its history: each through a fresh client until it is ok. Setup ops
 * are repeatable by contract, so an unknown outcome is simply tried again.
 */
async function runSetup(ops: readonly OpSpec[], newClient: () => Client, nodes: readonly string[], stop: AbortSignal, log: Logger): Promise<void> {
  for (const [i, spec] of ops.entries()) {
    let last = '';
    for (let attempt = 0; ; attempt++) {
      if (stop.aborted) throw new Error('interrupted during the workload setup');
      if (attempt >= 50) throw new Error(`workload setup: ${spec.f} ${String(spec.key ?? '')} did not succeed in 50 attempts (last: ${last})`);
      const client = newClient();
      const signal = AbortSignal.timeout(5000);
      try {
        await client.open(nodes[(i + attempt) % nodes.length]);
        const op = { process: 0, f: spec.f, value: spec.value ?? null, ...(spec.key !== undefined ? { key: spec.key } : {}) } as Parameters<
          Client['invoke']
        >[0];
        const r = await client.invoke(op, signal);
        if (r.type === 'ok') break;
        last = `${r.type} ${JSON.stringify(r.error ?? null)}`;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      } finally {
        await client.close().catch(() => undefined);
      }
      log.warn({ op: spec, attempt, last }, 'setup op not ok yet');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
