// The bundled reference system as an adapter: PacificA replication groups on
// data servers (`d1..dN`, role data) under a Raft-replicated configuration
// manager (`n1..nC`, role cm), all `undertow-node` processes. Its clients are
// the system's own client library, which finds each group's primary through
// the CM and caches configurations under leases; its view asks the CM who
// leads and who serves each group; its membership fault removes and re-adds
// data servers (by the CM's compare-and-set) and CM members (joint consensus).

import type { Deployment, ImageSpec, SystemAdapter } from '../../harness/core/system.js';
import { InputError } from '../../history/input-error.js';
import { invokerFor, referenceClient, versionClient } from './client.js';
import { CM_SIDE, DATA_SIDE, launchArgv, nodeNames, type ReferenceLayout } from './launch.js';
import { REFERENCE_LOG_CHECKS } from './logs.js';
import { membership } from './membership.js';
import { simulateReference } from './sim.js';
import { MEMBER_TARGETS } from './membership-plan.js';
import { ClusterView, referenceView } from './view.js';

/** Every node listens on this port of its own address. */
export const NODE_PORT = 7000;

/** Its Docker image: Node, the built system, its runtime modules. */
export const REFERENCE_IMAGE: ImageSpec = {
  name: 'node',
  binaries: [],
  project: { folder: 'system-under-test', entry: 'bin/undertow-node.js', dockerfile: 'adapters/reference/Dockerfile' },
};

const int = (min: number) => (v: string) => (/^\d+$/.test(v) && Number(v) >= min ? null : `an integer >= ${min}`);

const BUG_NOTES: Readonly<Record<string, string>> = {
  'vote-twice': 'a CM node grants two votes in one term',
  'cm-no-version-check': "the CM's reconfigure skips its version compare-and-set",
  'read-without-lease': 'a primary serves reads without checking its leases',
  'short-grace': "a secondary's grace period is half the lease",
  'commit-on-majority': 'a primary commits on a majority instead of every replica',
  'no-reconciliation': 'a new primary serves before reconciling its secondaries',
  'wall-clock-lease': 'leases timed on the wall clock',
  'ack-before-fsync': 'replicas acknowledge prepares before their log is durable',
};

export const referenceAdapter: SystemAdapter = {
  name: 'reference',
  summary: 'the bundled system: PacificA replication groups under a Raft configuration manager (undertow-node)',
  options: {
    'cm-nodes': { describe: 'configuration manager (Raft) nodes', default: '3', check: int(1) },
    groups: { describe: 'replication groups (keys hash to groups)', default: '3', check: int(1) },
    replication: { describe: 'replicas per group (at most the data servers, --nodes)', default: '3', check: int(1) },
    'lease-ms': {
      describe: "data servers: a primary's lease from each secondary (ms; the node's default when empty)",
      default: '',
      check: (v) => (v === '' ? null : int(1)(v)),
    },
    'grace-ms': {
      describe: 'data servers: the grace period before a secondary replaces a silent primary (ms, >= lease)',
      default: '',
      check: (v) => (v === '' ? null : int(1)(v)),
    },
    'election-ticks': {
      describe: 'CM: the Raft election timeout in 50 ms ticks (drawn from [N, 2N-1]; heartbeats every N/5); lower gives more elections, more often at once',
      default: '10',
      check: int(2),
    },
    'config-lease-ms': { describe: 'clients: how long a group configuration is cached (ms)', default: '5000', check: int(0) },
    'sim-disk-ms': {
      describe:
        '--provider sim: the longest a data server write takes to become durable (ms; a power failure loses writes not yet durable and may tear the one in progress)',
      default: '3',
      check: int(0),
    },
    fsync: {
      describe:
        'data servers: make their log durable (O_DSYNC appends, fsynced checkpoints); false is undertow-node --no-fsync, page-cache writes that a power failure (--nemesis power) drops',
      default: 'true',
      choices: ['true', 'false'],
    },
  },
  bugs: [...CM_SIDE, ...DATA_SIDE].map((name) => ({ name, describe: BUG_NOTES[name] ?? name })),
  capabilities: {
    faults: ['kill', 'pause', 'clock', 'partition', 'member', 'corrupt', 'power', 'packet'],
    workloads: ['register', 'set', 'append', 'bank', 'version-register'],
  },
  deploy(s): Deployment {
    const o = s.options;
    const layout: ReferenceLayout = {
      cm: Number(o['cm-nodes']),
      data: s.nodes,
      groups: Number(o.groups),
      replication: Number(o.replication),
      bugs: [...s.bugs],
      dataArgs: [
        ...(o['lease-ms'] ? ['--lease-ms', o['lease-ms']] : []),
        ...(o['grace-ms'] ? ['--grace-ms', o['grace-ms']] : []),
        ...(o.fsync === 'false' ? ['--no-fsync'] : []),
      ],
      cmArgs:
        o['election-ticks'] === '10'
          ? []
          : ['--election-ticks', o['election-ticks'], '--heartbeat-ticks', String(Math.max(1, Math.floor(Number(o['election-ticks']) / 5)))],
    };
    if (layout.data > 0 && layout.replication > layout.data)
      throw new InputError(
        `replication ${layout.replication} needs at least that many data nodes (--nodes ${layout.data})`,
        {},
        'lower --replication or raise --nodes',
      );
    const configLeaseMs = Number(o['config-lease-ms']);
    return {
      nodes: nodeNames(layout),
      ports: { client: NODE_PORT },
      // Nodes bind their outgoing connections to their own address.
      localPartitioning: 'source-address',
      launch: (ctx) => ({ argv: launchArgv(layout, ctx) }),
      image: REFERENCE_IMAGE,
      view: (nodes) => referenceView(nodes, layout),
      logChecks: REFERENCE_LOG_CHECKS,
      // Clients reach the system through the CM: the client library finds each group's primary.
      clientNodes: (nodes) => nodes.filter((n) => n.role === 'cm').map((n) => n.address),
      client(workload, c) {
        // Clients cache a group's configuration for seconds, as a deployment would (Chubby leases are 12 s):
        // safety must come from the primary's leases, not from clients asking the CM often.
        const options = { cm: c.nodes.filter((n) => n.role === 'cm').map((n) => n.address), timeoutMs: Math.max(500, c.opTimeoutMs - 500), configLeaseMs };
        // The version-register workload's keys are configurations in the CM itself (see versionClient).
        if (workload === 'version-register') return versionClient(options);
        return referenceClient(invokerFor(workload, c.workloadOptions), options);
      },
      membership: {
        targets: MEMBER_TARGETS,
        faults(ctx) {
          // The harness passes the view this deployment made; any other view gets a CM view of its own.
          const view = 'cluster' in ctx.view && ctx.view.cluster instanceof ClusterView ? ctx.view.cluster : new ClusterView(ctx.cluster.nodes);
          return membership({ cluster: ctx.cluster, view, layout, pick: ctx.pick, busy: ctx.busy });
        },
      },
      simulate: (spec) =>
        simulateReference(
          layout,
          {
            configLeaseMs,
            maxDiskMs: Number(o['sim-disk-ms']),
            electionTicks: Number(o['election-ticks']),
            fsync: o.fsync !== 'false',
            ...(o['lease-ms'] ? { leaseMs: Number(o['lease-ms']) } : {}),
            ...(o['grace-ms'] ? { graceMs: Number(o['grace-ms']) } : {}),
          },
          spec,
        ),
      settings: {
        cmNodes: layout.cm,
        dataNodes: layout.data,
        groups: layout.groups,
        replication: layout.replication,
        dataArgs: [...layout.dataArgs],
        cmArgs: [...layout.cmArgs],
        configLeaseMs,
      },
    };
  },
};

/**
 * A reference cluster's deployment from plain numbers, for tests, benchmarks
 * and tools that start one without a test (every option at its default
 * unless given; `data` 0 is a CM alone).
 */
export function referenceDeployment(o: {
  cm?: number;
  data: number;
  groups?: number;
  replication?: number;
  bugs?: readonly string[];
  leaseMs?: number;
  graceMs?: number;
  workload?: string;
}): Deployment {
  const options = Object.fromEntries(Object.entries(referenceAdapter.options).map(([k, spec]) => [k, spec.default]));
  if (o.cm !== undefined) options['cm-nodes'] = String(o.cm);
  if (o.groups !== undefined) options.groups = String(o.groups);
  if (o.replication !== undefined) options.replication = String(o.replication);
  if (o.leaseMs !== undefined) options['lease-ms'] = String(o.leaseMs);
  if (o.graceMs !== undefined) options['grace-ms'] = String(o.graceMs);
  return referenceAdapter.deploy({ nodes: o.data, bugs: o.bugs ?? [], options, workload: o.workload ?? 'register' });
}
