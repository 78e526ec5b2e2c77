// One bench, start to files: make the run's folder, start the cluster through
// the provider, wait until the system serves, measure every point (each
// repeat of the whole list in turn, so that a drift of the machine spreads
// over all points instead of landing on the last ones; with --nemesis, each
// with its own faults in its window (faults.ts), and the system serving
// again before the next), tear the cluster down, and write bench.json and
// bench.html. The cluster is torn down in `finally`, on process exit, and by
// the reaper if this process is killed, as for a test run.

import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { createRun, writeJson, type RunPaths } from '../../results/store.js';
import { renderBenchHtml } from './bench-html.js';
import { workloadNamed } from '../../workloads/index.js';
import type { Client } from '../core/client.js';
import { Random } from '../core/generator/index.js';
import { undertowVersion } from '../core/project-root.js';
import type { Cluster, Provider } from '../core/provider.js';
import { CpuTotal } from '../core/cpu-total.js';
import { processesOf } from '../providers/local.js';
import { deploySystem } from '../run/deploy.js';
import { watchOver } from '../run/reaper.js';
import type { BenchConfig } from './config.js';
import { measurePoint, type LoopMode, type PointMeasurement, type PointOptions } from './loop.js';
import { faultRecords, faultSpans, runPointFaults } from './faults.js';
import { describeFault, type FaultRecord } from './availability.js';
import type { SystemView } from '../core/system.js';
import type { Op } from '../../history/types.js';
import { cpuSeconds, cpuShares, machineCpu, machineFacts } from './machine.js';
import { benchText, pointRecord, type BenchResult } from './result.js';

export const BENCH_JSON = 'bench.json';
export const BENCH_HTML = 'bench.html';

export interface BenchOutcome {
  dir: string;
  result: BenchResult;
}

/** Seconds the system gets to serve every key's group before the bench gives up. */
const SETTLE_S = 60;

export async function runBench(c: BenchConfig, provider: Provider, stop: AbortSignal, out: NodeJS.WritableStream = process.stderr): Promise<BenchOutcome> {
  const startedAt = new Date();
  const paths: RunPaths = createRun(c.store, c.name, startedAt);
  const runDir = resolve(paths.dir);
  const runId = `b${startedAt.getTime().toString(36)}${process.pid.toString(36)}`.slice(-10);
  const workload = workloadNamed(c.workload);
  const made = workload.make({ keys: c.keys, opsPerKey: 1e9, rate: 1e9, readFraction: c.readFraction });
  const faulted = c.faults.nemesis.length > 0;
  const { deployment, options } = deploySystem({
    system: c.system,
    nodes: c.nodes,
    options: c.systemOptions,
    bugs: c.bugs,
    workload: c.workload,
    faults: c.faults.nemesis,
  });
  const log = pino({ base: { run: runId } }, pino.destination({ dest: paths.harnessLog, sync: true }));
  const result: BenchResult = {
    kind: 'undertow-bench',
    config: c,
    startedAt: startedAt.toISOString(),
    endedAt: null,
    interrupted: false,
    failure: null,
    versions: { undertow: undertowVersion(), node: process.version },
    machine: { ...machineFacts(), loadAfter: null },
    system: { options, settings: deployment.settings },
    points: [],
  };
  // test.json too, so that the store's tools (the reaper's leftovers check, the runs page) know the run.
  writeJson(paths.test, { name: c.name, kind: 'bench', system: c.system, provider: c.provider, workload: c.workload, runId, startedAt: result.startedAt });
  const save = () => writeJson(join(paths.dir, BENCH_JSON), result);
  save();
  out.write(
    `undertow bench: ${c.name} (${c.system}; ${c.workload}${faulted ? `; faults: ${c.faults.nemesis.join(',')}` : ''}; ${c.provider}) in ${paths.dir}\n`,
  );
  log.info({ config: c }, 'bench starting');

  let cluster: Cluster | undefined;
  let view: SystemView | undefined;
  const onExit = () => (cluster as { teardownSync?: () => void } | undefined)?.teardownSync?.();
  process.once('exit', onExit);
  const t0 = performance.now();
  try {
    watchOver(provider.name, runDir);
    await provider.cleanupLeftovers();
    cluster = await provider.up(
      { deployment, runDir, runId, fakeClock: c.faults.nemesis.includes('clock'), powerFaults: c.faults.nemesis.includes('power') },
      stop,
    );
    const up = cluster;
    const nodes = cluster.nodes;
    log.info({ nodes, ms: Math.round(performance.now() - t0) }, 'cluster up');
    const clientNodes = deployment.clientNodes(nodes);
    const newClient = (): Client => deployment.client(c.workload, { nodes, opTimeoutMs: c.opTimeoutMs, workloadOptions: made.options });
    const random = Random.seeded(c.seed);
    const draw = workload.bench!({ keys: c.keys, readFraction: c.readFraction });
    const nextOp = () => draw(random);
    // The cluster's CPU seconds: the provider's count (the Docker provider: the containers' cgroups), else its
    // processes on this machine (the local provider), added up over restarts (a killed node's new process); NaN elsewhere.
    const localCpu = new CpuTotal();
    const clusterCpu = () =>
      up.cpuSeconds?.() ?? (provider.name === 'local' ? localCpu.add(processesOf(runDir).map((pid) => [String(pid), cpuSeconds(pid)] as const)) : NaN);
    const point = (mode: LoopMode, warmupS: number, durationS: number, more: Partial<PointOptions> = {}): Promise<PointMeasurement> =>
      measurePoint({ mode, warmupS, durationS, newClient, nodes: clientNodes, nextOp, opTimeoutMs: c.opTimeoutMs, stop, probe: clusterCpu, ...more });

    // Serving: a short closed loop until every op of one comes back ok (each group has a primary the clients found).
    // At the start, and after each point with faults, so that the next point does not measure the last one's recovery.
    const serving = async (after: string) => {
      const settleEnd = performance.now() + SETTLE_S * 1000;
      for (;;) {
        if (stop.aborted) break;
        const m = await point({ kind: 'closed', concurrency: 8 }, 0, 0.5);
        if (m.ok > 0 && m.fail + m.info === 0) break;
        if (performance.now() > settleEnd)
          throw new Error(`the system did not serve every op within ${SETTLE_S} s of ${after} (last try: ${m.ok} ok, ${m.fail} fail, ${m.info} info)`);
      }
      log.info({ ms: Math.round(performance.now() - t0), after }, 'serving');
    };
    await serving('starting');
    if (faulted) view = deployment.view(nodes);

    // A point with faults: its schedule runs from the start of its window (onWindow) until one interval before its end.
    const measureWithFaults = async (mode: LoopMode, index: number): Promise<{ m: PointMeasurement; faults: FaultRecord[] }> => {
      const started: { schedule?: Promise<{ events: Op[]; ms: (e: Op) => number }> } = {};
      const onWindow = (windowEnd: number) => {
        started.schedule = runPointFaults({
          faults: c.faults,
          cluster: up,
          view: view!,
          deployment,
          nodes,
          seed: c.seed + 1000 * (index + 1),
          healAt: windowEnd - c.faults.nemesisInterval * 1000,
          stop,
          log: (f, value) => log.info({ f, value, point: index }, 'fault'),
        });
        // Awaited once the point is measured; until then a failure must not count as an unhandled rejection.
        started.schedule.catch(() => undefined);
      };
      const m = await point(mode, c.warmupS, c.durationS, { timeline: true, onWindow });
      const ran = await started.schedule;
      const faults = ran ? faultRecords(faultSpans(ran.events, ran.ms), m.timeline ?? [], t0, m.window.end) : [];
      m.timeline = null;
      return { m, faults };
    };

    const modes: LoopMode[] = [
      ...c.concurrency.map((n): LoopMode => ({ kind: 'closed', concurrency: n })),
      ...c.rates.map((r): LoopMode => ({ kind: 'open', rate: r, clients: c.openClients })),
    ];
    const total = modes.length * c.repeat;
    for (let r = 0; r < c.repeat && !stop.aborted; r++) {
      for (const mode of modes) {
        if (stop.aborted) break;
        const machine0 = machineCpu();
        const index = result.points.length;
        const { m, faults } = faulted ? await measureWithFaults(mode, index) : { m: await point(mode, c.warmupS, c.durationS), faults: undefined };
        if (stop.aborted) break; // a point cut short measures nothing
        const at = (m.window.start - t0) / 1000;
        const rec = pointRecord(m, { repeat: r, at, durationS: c.durationS, machine: cpuShares(machine0, machineCpu()), clusterCpuS: m.probed, faults });
        result.points.push(rec);
        save();
        log.info({ point: { ...rec, histograms: undefined, seconds: undefined } }, 'point done');
        out.write(
          `  [${result.points.length}/${total}] ${rec.id}: ${rec.throughput.toFixed(0)} ops/s, p50 ${rec.latency.p50.toFixed(2)} ms, p99 ${rec.latency.p99.toFixed(2)} ms${rec.fail + rec.info > 0 ? `, ${rec.fail} fail, ${rec.info} info` : ''}${rec.unsent > 0 ? `, ${rec.unsent} unsent (beyond what the system serves)` : ''}\n`,
        );
        for (const f of faults ?? [])
          out.write(
            `      ${describeFault(f)} at ${f.start.toFixed(1)} s: availability ${f.availability === null ? '-' : `${(100 * f.availability).toFixed(2)}%`}, ${f.recoveryS === null ? 'not served again within the point' : `served again after ${f.recoveryS.toFixed(2)} s`}, ${f.fail} fail, ${f.info} info\n`,
          );
        if (faulted && !stop.aborted) await serving('the faults of the last point');
      }
    }
  } catch (e) {
    if (!stop.aborted) result.failure = e instanceof Error ? e.message : String(e);
    log.error({ err: e }, stop.aborted ? 'interrupted' : 'the bench failed');
  } finally {
    view?.close();
    if (cluster) {
      await cluster.teardown().catch((e: unknown) => {
        result.failure ??= `teardown: ${e instanceof Error ? e.message : String(e)}`;
        log.error({ err: e }, 'teardown failed');
      });
    }
    process.removeListener('exit', onExit);
  }
  result.interrupted = stop.aborted;
  result.endedAt = new Date().toISOString();
  result.machine.loadAfter = machineFacts().loadavg;
  save();
  writeFileSync(join(paths.dir, BENCH_HTML), renderBenchHtml(result));
  writeJson(paths.test, {
    name: c.name,
    kind: 'bench',
    system: c.system,
    provider: c.provider,
    workload: c.workload,
    runId,
    startedAt: result.startedAt,
    endedAt: result.endedAt,
  });
  log.info({ failure: result.failure }, 'bench done');
  if (result.points.length > 0) out.write(`\n${benchText(result)}`);
  return { dir: paths.dir, result };
}
