// The reference system under `--provider sim`: its protocols in one process
// (system-under-test/sim/world.ts), seen by the harness through the same
// Cluster, SystemView and Client interfaces as a real cluster. The nemesis's
// calls take effect at the current virtual instant; the clients are the
// workload invokers of ./client.ts over the client library's logic in the
// simulated world.

import type { Client, ClientResult } from '../../harness/core/client.js';
import type { Cluster, NodeInfo } from '../../harness/core/provider.js';
import type { MembershipContext, MembershipFaults, SimulatedCluster, SimulationSpec, SystemView } from '../../harness/core/system.js';
import { InputError } from '../../history/input-error.js';
import type { CmResponse, CmRequest as RuntimeCmRequest, StatusResponse } from '../../system-under-test/runtime/client.js';
import { SimCmClient, SimKvClient } from '../../system-under-test/sim/kv-client.js';
import type { CmRequest } from '../../system-under-test/sim/world.js';
import { World } from '../../system-under-test/sim/world.js';
import { invokerFor, UNSERVED, versionClient } from './client.js';
import { nodeNames, type ReferenceLayout } from './launch.js';
import { membership, type MembershipClock, type MembershipView } from './membership.js';

/** Fault kinds the simulated world models; the others are refused before the run. */
export const SIM_FAULTS: readonly string[] = ['kill', 'pause', 'clock', 'partition', 'packet', 'power', 'corrupt', 'member'];

export interface SimSettings {
  readonly leaseMs?: number;
  readonly graceMs?: number;
  readonly configLeaseMs: number;
  readonly maxDiskMs: number;
  /** The CM's Raft election timeout in ticks (`--opt election-ticks`). */
  readonly electionTicks: number;
  /** `--opt fsync` (only true is simulated). */
  readonly fsync: boolean;
}

const NS_PER_MS = 1_000_000;

/** The CM requests the simulated CM nodes take (a get answers every group, whichever it names). */
function toWorld(req: RuntimeCmRequest): CmRequest {
  switch (req.op) {
    case 'get':
      return { op: 'get' };
    case 'registerServer':
    case 'createGroups':
    case 'reconfigure':
    case 'addMember':
    case 'removeMember':
      return req;
    default:
      throw new Error(`--provider sim: the CM request ${req.op} is not simulated`);
  }
}

export function simulateReference(layout: ReferenceLayout, settings: SimSettings, spec: SimulationSpec): SimulatedCluster {
  const refused = spec.faults.filter((f) => !SIM_FAULTS.includes(f));
  if (refused.length > 0) throw new InputError(`--provider sim cannot simulate --nemesis ${refused.join(',')} yet`, {}, `its faults: ${SIM_FAULTS.join(', ')}`);
  if (spec.faults.includes('packet') && spec.packet.includes('rate'))
    throw new InputError('--provider sim does not simulate rate limits (--packet rate)', {}, 'use --packet delay,loss,duplicate,reorder');
  if (!settings.fsync)
    throw new InputError('--provider sim does not simulate --opt fsync=false (page-cache appends)', {}, 'use --provider local or docker, or leave fsync on');
  if (!['register', 'set', 'append', 'bank', 'version-register'].includes(spec.workload))
    throw new InputError(`--provider sim cannot run workload ${spec.workload} yet`, {}, 'use register, set, append, bank or version-register');
  const world = new World({
    seed: spec.seed,
    cmNodes: layout.cm,
    dataNodes: layout.data,
    groups: layout.groups,
    replication: layout.replication,
    bugs: new Set(layout.bugs),
    maxDiskMs: settings.maxDiskMs,
    electionTicks: settings.electionTicks,
    ...(settings.leaseMs !== undefined ? { leaseMs: settings.leaseMs } : {}),
    ...(settings.graceMs !== undefined ? { graceMs: settings.graceMs } : {}),
  });
  const nodes: NodeInfo[] = nodeNames(layout).map((n) => ({ ...n, host: n.name, address: n.name }));
  const notSimulated = (what: string) => (): never => {
    throw new Error(`--provider sim does not simulate ${what}`);
  };
  const cluster: Cluster = {
    nodes,
    kill: async (n) => world.kill(n),
    start: async (n) => world.start(n),
    pause: async (n) => world.pause(n),
    resume: async (n) => world.resume(n),
    setClockOffset: async (n, ms) => {
      world.stopStrobe();
      world.setClockOffset(n, ms);
    },
    strobeClock: (ns, delta, period, duration) => world.strobeClocks(ns, delta, period, duration),
    partition: async (g) => world.partition(g),
    heal: async () => world.heal(),
    isRunning: (n) => world.isRunning(n),
    powerFail: async (n) => {
      const lost = world.powerFail(n);
      return { files: lost.files, undone: lost.undoneBytes, redone: 0, gone: 0 };
    },
    dataDir: notSimulated('data folders'),
    dataFiles: (n) => world.files(n),
    packet: async (ns, n) =>
      world.packet(ns, {
        delay: n.delayMs ?? 0,
        jitter: n.jitterMs ?? 0,
        loss: (n.lossPct ?? 0) / 100,
        duplicate: (n.duplicatePct ?? 0) / 100,
        reorder: (n.reorderPct ?? 0) / 100,
      }),
    clearPacket: async () => world.clearPacket(),
    startFresh: async (n, o) => world.startFresh(n, o?.join === true),
    teardown: async () => undefined,
  };
  const view: SystemView = {
    ready: async () => world.ready(),
    leader: async () => world.leader(),
    groups: async () => {
      const g = world.groups();
      if (g === null) return null;
      // The version-register workload's groups name no data server: left out, as the real view does.
      return Object.entries(g)
        .filter(([, c]) => world.dataIds.includes(c.primary))
        .map(([group, c]) => ({ group, primary: c.primary, secondaries: [...c.secondaries] }));
    },
    close: () => undefined,
  };
  // The membership fault: the adapter's own ops (./membership.ts over the pure plan), in virtual time, through a simulated CM client.
  const clock: MembershipClock = {
    now: () => world.now,
    sleep: (ms) =>
      new Promise<void>((resolve) =>
        world.at(world.now + Math.max(1, Math.ceil(ms)), () => {
          world.clientOutcomes++; // the driver lets the nemesis's promise settle, as a client's
          resolve();
        }),
      ),
  };
  const memberView: MembershipView = {
    // As ClusterView: the version-register workload's groups, which no data server serves, left out.
    groups: async () => {
      const g = world.groups();
      return g === null ? null : Object.fromEntries(Object.entries(g).filter(([, c]) => c.primary !== UNSERVED));
    },
    cmStatuses: async () =>
      Object.fromEntries(
        world.cmIds.map((id): [string, StatusResponse | null] => {
          const st = world.cmStatus(id);
          if (st === null) return [id, null];
          const { role, term, leader, commit, applied, lastIndex, config } = st;
          return [id, { ok: true, id, role, term, leader, leaderAddress: leader, commit, applied, lastIndex, config }];
        }),
      ),
  };
  let cmClients = 0;
  const membershipFaults = (ctx: MembershipContext): MembershipFaults =>
    membership({
      cluster: ctx.cluster,
      view: memberView,
      layout,
      pick: ctx.pick,
      busy: ctx.busy,
      clock,
      cmClient: () => {
        const cm = new SimCmClient(world, `nemesis-cm-${++cmClients}`, 3000);
        return { request: async (req) => (await cm.request(toWorld(req))) as CmResponse, close: () => cm.close() };
      },
    });
  const invoke = spec.workload === 'version-register' ? null : invokerFor(spec.workload, spec.workloadOptions);
  let clients = 0;
  return {
    cluster,
    view,
    now: () => world.now * NS_PER_MS,
    advance(ns) {
      const before = world.clientOutcomes;
      while (world.now * NS_PER_MS < ns) world.step();
      return world.clientOutcomes !== before;
    },
    boot(limitNs) {
      while (!world.ready()) {
        if (world.now * NS_PER_MS >= limitNs) return false;
        world.step();
      }
      return true;
    },
    newClient(): Client {
      if (spec.workload === 'version-register') {
        const timeoutMs = Math.max(500, spec.opTimeoutMs - 500);
        const id = `client-${++clients}`;
        return versionClient({ cm: [], timeoutMs }, () => {
          const cm = new SimCmClient(world, id, timeoutMs);
          return { request: async (req) => cm.request(toWorld(req)), close: () => cm.close() };
        });
      }
      // As the real adapter: the library gives up half a second before the harness's op timeout.
      const kv = new SimKvClient(world, `client-${++clients}`, {
        timeoutMs: Math.max(500, spec.opTimeoutMs - 500),
        configLeaseMs: settings.configLeaseMs,
        groups: layout.groups,
      });
      return {
        open: async () => undefined,
        invoke: (op, signal): Promise<ClientResult> => invoke!(kv, op, signal),
        close: () => kv.close(),
      };
    },
    membership: membershipFaults,
    trace: () => world.trace(),
    fatals: () => world.fatals.map((f) => ({ node: f.node, atNs: f.at * NS_PER_MS, message: f.message })),
    stops: () => world.diskStops.map((f) => ({ node: f.node, atNs: f.at * NS_PER_MS, message: f.message })),
    violations: () => world.violations.map((v) => ({ node: v.node, atNs: v.at * NS_PER_MS, property: v.property, message: v.message })),
    properties: ['acked-write'],
    stats: () => ({ ...world.stats, virtualMs: world.now }),
  };
}
