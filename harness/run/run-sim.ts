// `undertow test --provider sim`: one test run in virtual time. The system's
// own simulation (its adapter's `simulate`) is the cluster; this drives it
// with the very generator a real run uses (testGenerator: the workload, the
// seeded fault schedule, heal, quiet, final reads), the same Scheduler, the
// same nemesis (faultsNemesis over the simulated Cluster), a Recorder on the
// virtual clock, and the same analysis (results.json, report.html). It is a
// run path of its own rather than the worker pool on a fake clock: the pool
// sleeps on real timers, and here nothing may move time but the loop below.
//
// Exact replay: everything the run draws comes from the test's seed, and no
// wall time enters the history, so the same test.json and build give the
// same history.jsonl byte for byte; its SHA-256 is recorded in test.json.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { faultsNemesis } from '../../nemesis/faults.js';
import { createRun, writeJson } from '../../results/store.js';
import { workloadNamed } from '../../workloads/index.js';
import { NEMESIS, type Process } from '../../history/types.js';
import { InputError } from '../../history/input-error.js';
import type { Client, ClientResult } from '../core/client.js';
import { Scheduler, type Invocation, type OpSpec } from '../core/generator/index.js';
import { undertowVersion } from '../core/project-root.js';
import { Recorder, type EventFields } from '../core/recorder.js';
import type { Deployment, SimulatedCluster } from '../core/system.js';
import type { Workload } from '../core/workload.js';
import { validOf } from '../../checkers/index.js';
import { analyzeRun, type RunResults } from './analysis.js';
import { COVERAGE_FILE, SAMPLE_EVERY_MS, storedCoverage, type NodeLogsResult } from './coverage.js';
import type { ViewSample } from '../core/coverage.js';
import { deploySystem } from './deploy.js';
import { testGenerator, type RunOutcome, type TestConfig } from './run-test.js';
import { completionFields, TIMED_OUT } from './workers.js';

/** The virtual time the bootstrap (a CM leader, every group open) may take. */
const BOOT_LIMIT_NS = 60e9;

export interface SimOutcome extends RunOutcome {
  /** SHA-256 of history.jsonl. */
  historySha256: string;
  /** Virtual seconds the run covered (bootstrap included) and the wall seconds it took. */
  virtualSeconds: number;
  wallSeconds: number;
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

export async function runSimTest(test: TestConfig, o: { out?: NodeJS.WritableStream; quiet?: boolean } = {}): Promise<SimOutcome> {
  const out = o.out ?? process.stderr;
  const wall0 = performance.now();
  const startedAt = new Date();
  const workload = workloadNamed(test.workload).make({ keys: test.keys, opsPerKey: test.opsPerKey, rate: test.rate, readFraction: test.readFraction });
  const { deployment, options } = deploySystem({
    system: test.system,
    nodes: test.nodes,
    options: test.systemOptions,
    bugs: test.bugs,
    workload: test.workload,
    faults: test.nemesis,
  });
  if (deployment.simulate === undefined) throw new InputError(`system ${test.system} cannot run under --provider sim`, {}, 'use --provider local or docker');
  const sim = deployment.simulate({
    seed: test.seed,
    workload: test.workload,
    workloadOptions: workload.options,
    opTimeoutMs: test.opTimeoutMs,
    faults: test.nemesis,
    packet: test.packet,
  });
  const paths = createRun(test.store, test.name, startedAt);
  const asRun = {
    ...test,
    systemOptions: options,
    systemSettings: deployment.settings,
    workloadOptions: workload.options,
    startedAt: startedAt.toISOString(),
    versions: { undertow: undertowVersion(), node: process.version },
  };
  writeJson(paths.test, asRun);
  if (o.quiet !== true)
    out.write(
      `undertow: ${test.name} (${test.system}; ${test.workload}; faults: ${test.nemesis.join(',') || 'none'}; sim seed ${test.seed}) in ${paths.dir}\n`,
    );

  let failure: string | null = null;
  const samples: ViewSample[] = [];
  const booted = sim.boot(BOOT_LIMIT_NS);
  if (!booted) failure = `the simulated cluster was not ready after ${BOOT_LIMIT_NS / 1e9} virtual seconds`;
  else if (workload.setup !== undefined)
    try {
      await runSimSetup(workload.setup, sim);
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
    }
  const recorder = failure === null ? new Recorder({ dir: paths.dir, clock: () => BigInt(sim.now()) }) : null;
  if (recorder !== null) {
    try {
      await drive(test, workload, deployment, sim, recorder, samples);
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
    } finally {
      recorder.close();
    }
  }
  // A node that stopped on a failed invariant makes the run invalid, as its fatal log line does on a real provider.
  writeJson(resolve(paths.dir, COVERAGE_FILE), storedCoverage(samples, { result: fatalsResult(sim), counts: { ...sim.stats() } }));
  let results: RunResults | null = null;
  if (recorder !== null && recorder.history.length > 0) results = await analyzeRun(paths, asRun);
  const historySha256 = recorder === null ? '' : createHash('sha256').update(readFileSync(paths.history)).digest('hex');
  const virtualSeconds = sim.now() / 1e9;
  const wallSeconds = (performance.now() - wall0) / 1000;
  writeJson(paths.test, {
    ...asRun,
    endedAt: new Date().toISOString(),
    failure,
    sim: { historySha256, trace: sim.trace(), virtualSeconds, stats: sim.stats() },
  });
  return { paths, results, summary: null, failure, interrupted: false, historySha256, virtualSeconds, wallSeconds };
}

/** The test a stored sim run ran (its test.json), and the SHA-256 of its history, for `--replay RUN_DIR`. */
export function replayConfig(runDir: string, store: string): { test: TestConfig; historySha256: string } {
  let stored: TestConfig & { sim?: { historySha256?: string } };
  try {
    stored = JSON.parse(readFileSync(resolve(runDir, 'test.json'), 'utf8')) as typeof stored;
  } catch (e) {
    throw new InputError(`--replay ${runDir}: cannot read its test.json (${e instanceof Error ? e.message : String(e)})`);
  }
  const historySha256 = stored.sim?.historySha256;
  if (stored.provider !== 'sim' || historySha256 === undefined)
    throw new InputError(`--replay ${runDir}: not a finished --provider sim run`, {}, 'only simulated runs replay exactly');
  // test.json is the TestConfig plus what the run recorded about itself (the keys named here): replay keeps
  // the rest whole, so a setting added to TestConfig later replays without a change here.
  const {
    sim: _sim,
    systemSettings: _settings,
    workloadOptions: _options,
    startedAt: _started,
    versions: _versions,
    endedAt: _ended,
    failure: _failure,
    interrupted: _interrupted,
    ...test
  } = stored as typeof stored & Record<'systemSettings' | 'workloadOptions' | 'startedAt' | 'versions' | 'endedAt' | 'failure' | 'interrupted', unknown>;
  return { test: { ...test, name: `${stored.name}-replay`, store }, historySha256 };
}

/**
 * The workload's setup ops (the bank's opening balances), before the history
 * starts, as the worker pool's runSetup does: each through a fresh client
 * until it is ok, at most 50 attempts of 5 virtual seconds, 100 ms apart
 * (setup ops are repeatable by contract, so an unknown outcome is tried again).
 */
async function runSimSetup(ops: readonly OpSpec[], sim: SimulatedCluster): Promise<void> {
  const wait = async (ns: number, done: () => boolean): Promise<void> => {
    const end = sim.now() + ns;
    while (!done() && sim.now() < end) if (sim.advance(sim.now() + 1e6)) await settle();
  };
  for (const spec of ops) {
    let last = '';
    for (let attempt = 0; ; attempt++) {
      if (attempt >= 50) throw new Error(`workload setup: ${spec.f} ${String(spec.key ?? '')} did not succeed in 50 attempts (last: ${last})`);
      const client = sim.newClient();
      await client.open('');
      const controller = new AbortController();
      const got: { r: ClientResult | null } = { r: null };
      const op = { process: 0, f: spec.f, value: spec.value ?? null, ...(spec.key !== undefined ? { key: spec.key } : {}) } as Parameters<Client['invoke']>[0];
      client.invoke(op, controller.signal).then(
        (r) => (got.r = r),
        (e: unknown) => (got.r = { type: 'info', error: e instanceof Error ? e.message : String(e) }),
      );
      await wait(5e9, () => got.r !== null);
      if (got.r === null) controller.abort();
      await settle();
      await client.close();
      if (got.r?.type === 'ok') break;
      last = got.r === null ? 'timed out' : `${got.r.type} ${JSON.stringify(got.r.error ?? null)}`;
      await wait(100e6, () => false);
    }
  }
}

/** The node-logs result of a simulated run: its invariant failures (matches) and property violations (anomalies). */
function fatalsResult(sim: SimulatedCluster): NodeLogsResult {
  const fatals = sim.fatals();
  const stops = sim.stops?.() ?? [];
  const violations = sim.violations?.() ?? [];
  const properties = sim.properties ?? [];
  const verdict = fatals.length > 0 || violations.length > 0 ? 'invalid' : 'valid';
  return {
    checker: 'node-logs',
    verdict,
    valid: validOf(verdict),
    matches: fatals
      .slice(0, 50)
      .map((f, i) => ({ node: f.node, line: i + 1, text: `${(f.atNs / 1e9).toFixed(3)} s: ${f.message}`, what: 'fatal: invariant violated' })),
    matchCount: fatals.length,
    anomalies: violations.slice(0, 50).map((v) => ({ kind: v.property, what: `${(v.atNs / 1e9).toFixed(3)} s: ${v.message}` })),
    notes: [
      'simulated: each match is a protocol invariant failure that stopped its node',
      ...(properties.length > 0
        ? [
            `simulated: white-box properties checked after every virtual millisecond (${properties.join(', ')}): ${violations.length === 0 ? 'none broken' : `${violations.length} violation${violations.length === 1 ? '' : 's'}, each an anomaly (the node went on)`}`,
          ]
        : []),
      // A corrupt disk is the node's own check refusing to start (DiskCorruptError), not a protocol failure: told, not counted.
      ...stops.slice(0, 20).map((s) => `${s.node} did not start at ${(s.atNs / 1e9).toFixed(3)} s: ${s.message}`),
    ],
    lines: {},
  };
}

interface Running {
  readonly op: Invocation;
  readonly controller: AbortController;
  readonly deadline: number;
}

/** The loop: ask the scheduler, invoke, move virtual time a millisecond, record what finished. */
async function drive(
  test: TestConfig,
  workload: Workload,
  deployment: Deployment,
  sim: SimulatedCluster,
  recorder: Recorder,
  samples: ViewSample[],
): Promise<void> {
  const cluster = sim.cluster;
  const nemesis = faultsNemesis({
    cluster,
    view: sim.view,
    faultRoles: deployment.faultRoles,
    seed: test.seed + 1,
    ...(sim.membership !== undefined ? { membership: sim.membership } : {}),
  });
  const faultNodes = cluster.nodes.filter((n) => deployment.faultRoles === undefined || deployment.faultRoles.includes(n.role)).map((n) => n.name);
  const scheduler = new Scheduler(testGenerator(test, workload, faultNodes, deployment.membership?.targets), {
    concurrency: test.concurrency,
    seed: test.seed,
  });
  const clients = new Map<Process, Client>();
  const running = new Map<Process, Running>();
  /** Completions in the order their promises settled (deterministic: one process, virtual time). */
  const finished: { process: Process; r: ClientResult }[] = [];
  const opTimeoutNs = test.opTimeoutMs * 1e6;

  const complete = (op: Invocation, r: ClientResult): void => {
    scheduler.completed(recorder.record(completionFields(op, r)));
    if (op.process !== NEMESIS && r.type === 'info') {
      // The process retires (its op may still take effect); its successor gets a fresh client.
      void clients.get(op.process)?.close();
      clients.delete(op.process);
    }
  };

  let exhausted = false;
  let wakeAt = 0;
  let sampleAt = 0;
  for (;;) {
    // Who leads and who serves, every SAMPLE_EVERY_MS of virtual time: the run's fault coverage, as the ViewSampler takes it.
    if (recorder.now() >= sampleAt) {
      sampleAt = recorder.now() + SAMPLE_EVERY_MS * 1e6;
      const [leader, groups] = await Promise.all([sim.view.leader(), sim.view.groups()]);
      samples.push({ t: recorder.now(), leader, groups });
    }
    // What finished, then what timed out, in a fixed order. Either wakes the scheduler (the
    // generator may react to a completion), as the worker pool's waker does.
    for (const { process, r } of finished.splice(0)) {
      const run = running.get(process);
      if (run === undefined) continue; // timed out already
      running.delete(process);
      complete(run.op, r);
      wakeAt = 0;
    }
    const now = recorder.now();
    for (const [process, run] of [...running].sort((a, b) => a[1].deadline - b[1].deadline || Number(a[0]) - Number(b[0]))) {
      if (run.deadline > now) continue;
      running.delete(process);
      run.controller.abort();
      complete(run.op, { type: 'info', error: TIMED_OUT });
      wakeAt = 0;
    }
    if (!exhausted && now >= wakeAt) {
      wakeAt = Infinity;
      for (;;) {
        const poll = scheduler.poll(recorder.now());
        if (poll.kind === 'done') {
          exhausted = true;
          break;
        }
        if (poll.kind === 'wait') {
          wakeAt = poll.until ?? Infinity;
          break;
        }
        const op = poll.op;
        const fields: EventFields = { type: 'invoke', f: op.f, value: op.value, process: op.process };
        if (op.key !== undefined) fields.key = op.key;
        scheduler.invoked(recorder.record(fields));
        if (op.process === NEMESIS) {
          // A fault takes effect at this virtual instant; the world does not move meanwhile. One that
          // takes time (a membership change waits for the CM) finishes later, as a client's op does.
          const got: { r: ClientResult | null; later: boolean } = { r: null, later: false };
          void nemesis
            .invoke(op)
            .then(
              (x): ClientResult => ({ type: 'info', value: x?.value }),
              (e: unknown): ClientResult => ({ type: 'info', error: e instanceof Error ? e.message : String(e) }),
            )
            .then((r) => {
              got.r = r;
              if (got.later) finished.push({ process: op.process, r });
            });
          await settle();
          if (got.r !== null) {
            complete(op, got.r);
            continue;
          }
          got.later = true;
          running.set(op.process, { op, controller: new AbortController(), deadline: Infinity });
          continue;
        }
        let client = clients.get(op.process);
        if (client === undefined) {
          client = sim.newClient();
          clients.set(op.process, client);
          await client.open('');
        }
        const controller = new AbortController();
        running.set(op.process, { op, controller, deadline: recorder.now() + opTimeoutNs });
        client.invoke(op, controller.signal).then(
          (r) => finished.push({ process: op.process, r }),
          (e: unknown) => finished.push({ process: op.process, r: { type: 'info', error: e instanceof Error ? e.message : String(e) } }),
        );
      }
    }
    if (exhausted && running.size === 0) break;
    // Let the promises of operations that finished in this millisecond settle into `finished`.
    if (sim.advance(sim.now() + 1e6)) await settle();
  }
  await nemesis.teardown();
  for (const c of clients.values()) await c.close();
}
