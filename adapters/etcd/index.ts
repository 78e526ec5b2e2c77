// etcd 3.4 (Debian's etcd-server: /usr/bin/etcd) as a system under test.
//
// Nodes e1..eN, role `member`, each listening for clients on HOST:2379 and for
// peers on HOST:2380 of its own address. Clients go through etcd's JSON gateway
// (./client.ts), each stuck to one member. Partitions on the local provider
// need `owner` rules: etcd dials its peers from 127.0.0.1 whatever it listens
// on, so each member runs as a user of its own (nemesis/iptables.ts's
// ownerDrops). Clock faults are refused: Go reads the clock through the vDSO,
// which libfaketime does not reach. Power faults are refused for the same
// reason: Go makes its write and fsync system calls itself, past LD_PRELOAD.
//
// Joining (the membership fault's add): etcd's --initial-cluster of a member
// that joins a running cluster must list exactly the members the cluster has
// then, the new one included, as `member add` answers them. The deployment
// and its membership fault share one record: `add` runs `member add`, maps
// the members it got back to node names (by peer URL, so a member added but
// never started counts too) and records that list for the node; then it asks
// the provider for `startFresh(node, {join: true})`, whose `launch` reads the
// record (and `--initial-cluster-state existing`). The provider keeps that
// command line for the node's later restarts, where etcd ignores the flag (its
// data dir holds the membership). A join launch without a record is refused:
// only the membership fault knows the list.

import { createHash } from 'node:crypto';
import type { NodeInfo } from '../../harness/core/provider.js';
import { resolveOptions } from '../../harness/core/options.js';
import type { Deployment, LaunchContext, OptionSpec, SystemAdapter } from '../../harness/core/system.js';
import type { Value } from '../../history/types.js';
import { InputError } from '../../history/input-error.js';
import { etcdClient, type ReadMode } from './client.js';
import { ETCD_LOG_CHECKS } from './logs.js';
import { etcdMembership, MEMBER_TARGETS, type JoinRecord } from './membership.js';
import { CLIENT_PORT, clientUrl, ETCD_BINARY, PEER_PORT, peerUrl } from './urls.js';
import { etcdView } from './view.js';

export { CLIENT_PORT, clientUrl, ETCD_BINARY, PEER_PORT, peerUrl } from './urls.js';

const int = (min: number, max: number) => (v: string) => (/^\d+$/.test(v) && Number(v) >= min && Number(v) <= max ? null : `an integer from ${min} to ${max}`);

const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  reads: {
    describe: "reads: linearizable (through the leader, ReadIndex) or serializable (the member's own state, possibly stale)",
    default: 'linearizable',
    choices: ['linearizable', 'serializable'],
  },
  'heartbeat-ms': { describe: 'etcd --heartbeat-interval (ms)', default: '100', check: int(10, 10_000) },
  'election-ms': { describe: 'etcd --election-timeout (ms; at least 5 heartbeats)', default: '1000', check: int(50, 50_000) },
  'pre-vote': { describe: 'etcd --pre-vote (3.4 defaults to false)', default: 'false', choices: ['true', 'false'] },
  'snapshot-count': {
    describe: 'etcd --snapshot-count: applied entries between snapshots (low values make joins and lagging members catch up by snapshot)',
    default: '100000',
    check: int(1, 10_000_000),
  },
};

/** The option values in force (checked, defaults filled in), and the one check across options. */
function resolveEtcdOptions(given: Readonly<Record<string, string>>): Record<string, string> {
  const out = resolveOptions({ name: 'etcd', options: OPTIONS }, given);
  if (Number(out['election-ms']) < 5 * Number(out['heartbeat-ms'])) {
    throw new InputError(
      `etcd election-ms ${out['election-ms']} is less than 5 heartbeats of ${out['heartbeat-ms']} ms`,
      {},
      'raise election-ms or lower heartbeat-ms',
    );
  }
  return out;
}

/** Unique per cluster: a hash of its nodes' addresses (a run's loopback block, a Docker network's addresses). */
export function clusterToken(nodes: readonly NodeInfo[]): string {
  return `undertow-${createHash('sha256')
    .update(
      nodes
        .map((n) => n.host)
        .sort()
        .join(','),
    )
    .digest('hex')
    .slice(0, 16)}`;
}

/** Go's name of this machine's architecture, where etcd 3.4 wants ETCD_UNSUPPORTED_ARCH (amd64 and ppc64le are supported). */
function unsupportedArch(): Record<string, string> {
  const go: Record<string, string> = {
    arm64: 'arm64',
    arm: 'arm',
    s390x: 's390x',
    ia32: '386',
    riscv64: 'riscv64',
    mips: 'mips',
    mipsel: 'mipsle',
    ppc: 'ppc',
  };
  const arch = go[process.arch];
  return arch ? { ETCD_UNSUPPORTED_ARCH: arch } : {};
}

export const etcdAdapter: SystemAdapter = {
  name: 'etcd',
  summary: 'etcd 3.4 (Debian etcd-server, /usr/bin/etcd): members e1..eN, clients through its v3 JSON gateway',
  options: OPTIONS,
  bugs: [],
  capabilities: {
    faults: ['kill', 'pause', 'partition', 'member', 'packet'],
    workloads: ['register', 'set', 'append', 'bank'],
    refusals: {
      clock: 'etcd is a Go program: libfaketime does not reach its clock reads (Go reads the vDSO directly), so clock faults would do nothing',
      corrupt:
        'not yet for etcd: a member that finds a bad WAL or snapshot record stops with a fatal log line (the right thing), which the node-log checks count as a crash; they need to tell the two apart first',
      power:
        'etcd is a Go program: it makes its system calls itself, not through the C library, so the power shim (LD_PRELOAD) cannot see its writes and a power failure would drop nothing',
    },
  },
  deploy(s): Deployment {
    if (!(Number.isInteger(s.nodes) && s.nodes >= 1)) throw new InputError(`etcd needs at least 1 member, got --nodes ${s.nodes}`);
    if (s.bugs.length > 0) throw new InputError(`etcd has no seeded bugs (asked for ${s.bugs.join(', ')})`);
    const o = resolveEtcdOptions(s.options);
    const reads = o.reads as ReadMode;
    const joins = new Map<string, JoinRecord>();
    const names = Array.from({ length: s.nodes }, (_, i) => `e${i + 1}`);

    const launch = (ctx: LaunchContext) => {
      const h = ctx.node.host;
      let initialCluster: string;
      if (ctx.join) {
        const rec = joins.get(ctx.node.name);
        if (!rec)
          throw new Error(
            `etcd: ${ctx.node.name} can join a running cluster only through the membership fault's add, which records the member list etcd's member add answered`,
          );
        initialCluster = rec.initialCluster;
      } else {
        initialCluster = ctx.nodes
          .filter((n) => n.role === 'member')
          .map((n) => `${n.name}=${peerUrl(n.host)}`)
          .join(',');
      }
      return {
        argv: [
          ETCD_BINARY,
          '--name',
          ctx.node.name,
          '--data-dir',
          ctx.dataDir,
          '--listen-client-urls',
          clientUrl(h),
          '--advertise-client-urls',
          clientUrl(h),
          '--listen-peer-urls',
          peerUrl(h),
          '--initial-advertise-peer-urls',
          peerUrl(h),
          '--initial-cluster',
          initialCluster,
          '--initial-cluster-state',
          ctx.join ? 'existing' : 'new',
          '--initial-cluster-token',
          clusterToken(ctx.nodes),
          '--heartbeat-interval',
          o['heartbeat-ms']!,
          '--election-timeout',
          o['election-ms']!,
          // A Go boolean flag takes its value only after '='.
          `--pre-vote=${o['pre-vote']!}`,
          '--snapshot-count',
          o['snapshot-count']!,
        ],
        env: unsupportedArch(),
        // etcd reads ETCD_* variables as flags: a stray one in the harness's environment would change the test.
        inheritEnv: false,
      };
    };

    const settings: Record<string, Value> = {
      binary: ETCD_BINARY,
      reads,
      heartbeatMs: Number(o['heartbeat-ms']),
      electionMs: Number(o['election-ms']),
      preVote: o['pre-vote'] === 'true',
      snapshotCount: Number(o['snapshot-count']),
    };

    return {
      nodes: names.map((name) => ({ name, role: 'member' })),
      ports: { client: CLIENT_PORT, peer: PEER_PORT },
      // etcd dials its peers from 127.0.0.1: each member runs as a user of its own.
      localPartitioning: 'owner',
      launch,
      image: { name: 'etcd', binaries: [ETCD_BINARY] },
      view: (nodes) => etcdView(nodes),
      logChecks: ETCD_LOG_CHECKS,
      clientNodes: (nodes) => nodes.map((n) => n.address),
      client: (workload, c) =>
        etcdClient({
          workload,
          reads,
          opTimeoutMs: c.opTimeoutMs,
          accounts: Array.isArray(c.workloadOptions.accounts) ? (c.workloadOptions.accounts as unknown[]).map(String) : [],
        }),
      membership: { targets: MEMBER_TARGETS, faults: (ctx) => etcdMembership({ ...ctx, joins }) },
      settings,
    };
  },
};

/** A deployment from plain values, for tests and benchmarks (options at their defaults unless given). */
export function etcdDeployment(nodes: number, options: Readonly<Record<string, string>> = {}, workload = 'register'): Deployment {
  return etcdAdapter.deploy({ nodes, bugs: [], options, workload });
}
