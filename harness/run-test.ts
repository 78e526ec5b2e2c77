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
import type { ComposedResult } from '../checkers/index.js';
import { faultsNemesis, type FaultKind, type PartitionShape, type Target } from '../nemesis/faults.js';
import { faultSchedule, HEAL_ALL } from '../nemesis/schedule.js';
import { createRun, writeJson, type RunPaths } from '../results/store.js';
import { KvClient } from '../system-under-test/client/index.js';
import { makeWorkload, workloadClient, type TestSpec } from '../workloads/index.js';
import { analyzeRun, writeResults } from './commands/analyze.js';
import { ClusterView } from './cluster-view.js';
import { clients, clientsAndNemesis, nemesis as onNemesis, phases, sleep, stagger, timeLimit } from './generator/index.js';
import { Progress } from './progress.js';
import { undertowVersion } from './project-root.js';
import type { Cluster, ClusterSpec, Provider } from './provider.js';
import { Recorder } from './recorder.js';
import { runWorkers, type RunSummary } from './workers.js';

/** The test as run: test.json. A plain value, printable, replayable by seed. */
export interface TestConfig extends TestSpec {
  name: string;
  provider: string;
  nemesis: FaultKind[];
  /** Partition shapes the partition fault draws from. */
  partitions: PartitionShape[];
  /** Whom kill and pause aim at. */
  targets: Target[];
  cmNodes: number;
  dataNodes: number;
  groups: number;
  replication: number;
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
  /** Extra `undertow-node data` flags (lease and grace timing). */
  dataArgs: string[];
  store: string;
}

export interface RunOutcome {
  paths: RunPaths;
  results: ComposedResult | null;
  summary: RunSummary | null;
  /** The harness itself failed (not the system under test). */
  failure: string | null;
  interrupted: boolean;
}

export async function runTest(test: TestConfig, provider: Provider, stop: AbortSignal, out: NodeJS.WriteStream = process.stderr): Promise<RunOutcome> {
  const startedAt = new Date();
  const paths = createRun(test.store, test.name, startedAt);
  const runDir = resolve(paths.dir);
  const runId = `${startedAt.getTime().toString(36)}${process.pid.toString(36)}`.slice(-10);
  const workload = makeWorkload(test.workload, { keys: test.keys, opsPerKey: test.opsPerKey, rate: test.rate, readFraction: test.readFraction });
  const asRun = { ...test, workloadOptions: workload.options, runId, startedAt: startedAt.toISOString(), versions: { undertow: undertowVersion(), node: process.version } };
  writeJson(paths.test, asRun);
  const log: Logger = pino({ base: { run: runId } }, pino.destination({ dest: paths.harnessLog, sync: true }));
  log.info({ test: asRun }, 'test starting');
  out.write(`undertow: ${test.name} (${test.workload}; faults: ${test.nemesis.join(',') || 'none'}; ${test.provider}) in ${paths.dir}\n`);

  const recorder = new Recorder({ dir: paths.dir });
  const progress = new Progress(() => recorder.history, test.timeLimit, out);
  let cluster: Cluster | undefined;
  let summary: RunSummary | null = null;
  let failure: string | null = null;
  // A harness that dies without running `finally` (an uncaught error elsewhere) still kills its nodes.
  const onExit = () => (cluster as { teardownSync?: () => void } | undefined)?.teardownSync?.();
  process.once('exit', onExit);
  try {
    await provider.cleanupLeftovers();
    const spec: ClusterSpec = {
      cm: test.cmNodes, data: test.dataNodes, groups: test.groups, replication: test.replication, bugs: test.bugs,
      runDir, runId, fakeClock: test.nemesis.includes('clock'), dataArgs: test.dataArgs,
    };
    const t0 = performance.now();
    cluster = await provider.up(spec, stop);
    log.info({ nodes: cluster.nodes, ms: Math.round(performance.now() - t0) }, 'cluster up');
    const cm = cluster.cmAddresses;
    // Clients cache a group's configuration for seconds, as a deployment would (Chubby leases are 12 s):
    // safety must come from the primary's leases, not from clients asking the CM often.
    const clientOptions = { cm, timeoutMs: Math.max(500, test.opTimeoutMs - 500), configLeaseMs: 5000 };
    if (workload.setup) {
      const kv = new KvClient(clientOptions);
      try {
        await workload.setup(kv, stop);
      } finally {
        await kv.close();
      }
    }
    const view = new ClusterView(cluster.nodes);
    const nemesis = faultsNemesis({ cluster, view, seed: test.seed + 1, log: (f, value) => log.info({ f, value }, 'fault') });
    const limitNs = test.timeLimit * 1e9;
    const schedule = faultSchedule({ kinds: test.nemesis, nodes: cluster.nodes.map((n) => n.name), quietMs: test.nemesisInterval * 1000, partitions: test.partitions, targets: test.targets, holdMs: test.nemesisInterval * 1000, overlap: test.nemesisOverlap });
    const generator = phases(
      clientsAndNemesis(timeLimit(limitNs, stagger(1e9 / test.rate, workload.generator)), timeLimit(limitNs, schedule)),
      onNemesis(HEAL_ALL),
      sleep(test.quiet * 1e9),
      clients(timeLimit(30e9, workload.final)),
    );
    progress.start();
    try {
      summary = await runWorkers({
        generator,
        concurrency: test.concurrency,
        seed: test.seed,
        nodes: cm,
        newClient: () => workloadClient(workload, clientOptions),
        nemesis,
        recorder,
        opTimeoutMs: test.opTimeoutMs,
        stop,
      });
    } finally {
      progress.stop();
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

  // Check whatever was recorded, also after a failure or an interruption;
  // with nothing recorded (stopped before the first op) there is nothing to judge.
  let results: ComposedResult | null = null;
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
