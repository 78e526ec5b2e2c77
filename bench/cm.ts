// npm run bench:cm: the configuration manager as 3 real `undertow-node cm`
// processes on 127.0.0.1 (built program, default timing, fsync on), driven
// through the client library (CmClient).
//
// 1. Reconfigure throughput and latency: K concurrent clients, each with its
//    own CmClient (own TCP connection) and its own group, so compare-and-sets
//    do not conflict; each reads its group's version once, then issues
//    reconfigure(group, version, next layout) back to back for SECONDS.
//    Latency is request to answer at the client; quantiles from an HDR
//    histogram (checkers/latency.ts).
// 2. Leader failover, ROUNDS times: find the leader, kill -9 it, and measure
//    from the kill until (a) a surviving node reports itself leader (status
//    polled every 5 ms) and (b) a reconfigure through a client that knows all
//    three addresses succeeds. Then restart the killed node on its data
//    directory and wait until it follows the leader and has applied the
//    leader's commit index before the next round.
//
// Every child is killed and the temp dir removed on the way out, also on
// error, SIGINT and SIGTERM. Total run time is about 1.5 minutes.
//
// It stays apart from `undertow bench`: it drives the CM's own
// reconfigure and failover, which no workload's client ops reach.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { latencies, quantilesOf } from '../checkers/latency.js';
import { table } from '../harness/bench/result.js';
import { median } from '../harness/bench/stats.js';
import type { GroupLayout } from '../system-under-test/cm/state.js';
import { CmClient, type CmResponse, type StatusResponse } from '../system-under-test/runtime/client.js';
import { LocalCmCluster, until } from '../system-under-test/runtime/local-cluster.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROGRAM = path.join(here, '..', 'system-under-test', 'bin', 'undertow-node.js');

const IDS = ['n1', 'n2', 'n3'];
/** The node program's defaults (see runtime/main.ts); passed explicitly so the table can state them. */
const TICK_MS = 50;
const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;
const CONCURRENCIES = [1, 4, 16, 64];
const SECONDS = 6;
const WARMUP_SECONDS = 1;
const ROUNDS = 20;
/** A failover round that has not completed after this long is reported as failed. */
const ROUND_LIMIT_MS = 15_000;
const SERVERS = ['d1', 'd2', 'd3'];

// ------------------------------------------------------------ small helpers

const ms = (x: number) => (Number.isNaN(x) ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/** The next layout of a group: rotate the primary through the data servers. */
function layout(version: number): GroupLayout {
  const p = version % SERVERS.length;
  return { primary: SERVERS[p], secondaries: SERVERS.filter((_, i) => i !== p) };
}

function say(s: string): void {
  process.stdout.write(s);
}

/** fsync of a small append in the directory the nodes use: what each Raft write costs at least. */
function fsyncCost(dir: string, n = 200): { p50: number; p99: number } {
  const f = path.join(dir, 'fsync-probe');
  const fd = fs.openSync(f, 'a');
  const buf = Buffer.alloc(128, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      fs.writeSync(fd, buf);
      const t = performance.now();
      fs.fsyncSync(fd);
      times.push(performance.now() - t);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(f, { force: true });
  }
  const [p50, p99] = quantilesOf(times, [0.5, 0.99]);
  return { p50, p99 };
}

// ------------------------------------------------------------ the cluster

async function statusOf(cluster: LocalCmCluster, id: string): Promise<StatusResponse | undefined> {
  return cluster.procs.has(id) ? cluster.status(id) : undefined;
}

/** All running nodes agree on one leader, and each has applied the leader's commit index. */
async function settled(cluster: LocalCmCluster): Promise<StatusResponse | undefined> {
  const sts = await Promise.all([...cluster.procs.keys()].map((id) => statusOf(cluster, id)));
  const leader = sts.find((s) => s?.role === 'leader');
  if (leader === undefined || sts.length !== IDS.length) return undefined;
  const ok = sts.every((s) => s !== undefined && s.leader === leader.id && s.term === leader.term && s.applied >= leader.commit);
  return ok ? leader : undefined;
}

// ------------------------------------------------------------ 1. throughput and latency

interface Row {
  clients: number;
  ops: number;
  seconds: number;
  conflicts: number;
  errors: number;
  latencies: number[];
}

async function throughputRow(cluster: LocalCmCluster, k: number, seconds: number): Promise<Row> {
  const clients = Array.from({ length: k }, () => cluster.client(IDS, { timeoutMs: 5000, attemptMs: 2000 }));
  // Read each group's version first (a linearizable get), outside the timed window.
  const versions = await Promise.all(
    clients.map(async (c, i) => {
      const r = await c.request({ op: 'get', group: `g${i}` });
      const g = r.ok ? (r.groups as Record<string, { version: number }>)[`g${i}`] : undefined;
      if (g === undefined) throw new Error(`get g${i} failed: ${JSON.stringify(r)}`);
      return g.version;
    }),
  );
  const latencies: number[] = [];
  let conflicts = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    clients.map(async (c, i) => {
      const group = `g${i}`;
      let v = versions[i];
      while (performance.now() < end) {
        const t = performance.now();
        const r: CmResponse = await c.request({ op: 'reconfigure', group, expectedVersion: v, config: layout(v + 1) });
        const dt = performance.now() - t;
        if (r.ok) {
          latencies.push(dt);
          v = (r.group as { version: number } | undefined)?.version ?? v + 1;
        } else if (r.error === 'version-mismatch' && r.group !== undefined) {
          conflicts++;
          v = r.group.version;
        } else {
          errors++;
          const g = await c.request({ op: 'get', group });
          if (g.ok) v = (g.groups as Record<string, { version: number }>)[group].version;
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  for (const c of clients) c.close();
  return { clients: k, ops: latencies.length, seconds: elapsed, conflicts, errors, latencies };
}

// ------------------------------------------------------------ 2. failover

interface Round {
  leaderSeenMs: number;
  writeOkMs: number;
  newLeader: string;
  /** Terms the election took: 1 if the first candidate won. */
  terms: number;
  /** Time until the restarted node had caught up (not part of the failover). */
  rejoinMs: number;
}

async function failoverRound(cluster: LocalCmCluster, writer: CmClient, state: { version: number }): Promise<Round> {
  const before = await until('a settled cluster', () => settled(cluster), 20_000);
  const old = before.id;
  const survivors = IDS.filter((id) => id !== old);
  const pollers = survivors.map((id) => cluster.client([id], { timeoutMs: 200, attemptMs: 200 }));

  const killedAt = performance.now();
  await cluster.kill(old);
  let leaderSeenMs = NaN;
  let newLeader = '';
  let newTerm = NaN;
  let done = false;
  const watch = (async () => {
    while (!done && performance.now() - killedAt < ROUND_LIMIT_MS) {
      const sts = await Promise.all(pollers.map((p) => p.request({ op: 'status' })));
      const l = sts.find((s) => s.ok && s.role === 'leader');
      if (l !== undefined) {
        leaderSeenMs = performance.now() - killedAt;
        newLeader = l.ok ? String(l.id) : '';
        newTerm = l.ok ? Number(l.term) : NaN;
        return;
      }
      await sleep(5);
    }
  })();
  let writeOkMs = NaN;
  try {
    while (performance.now() - killedAt < ROUND_LIMIT_MS) {
      const r = await writer.request({ op: 'reconfigure', group: 'failover', expectedVersion: state.version, config: layout(state.version + 1) });
      if (r.ok) {
        writeOkMs = performance.now() - killedAt;
        state.version = (r.group as { version: number } | undefined)?.version ?? state.version + 1;
        break;
      }
      if (r.error === 'version-mismatch' && r.group !== undefined) {
        state.version = r.group.version; // an earlier attempt with an unknown outcome did commit
      } else if (r.unknown === true) {
        const g = await writer.request({ op: 'get', group: 'failover' });
        if (g.ok) state.version = (g.groups as Record<string, { version: number }>).failover.version;
      }
    }
    await watch;
  } finally {
    done = true;
    for (const p of pollers) p.close();
  }
  if (Number.isNaN(writeOkMs) || Number.isNaN(leaderSeenMs))
    throw new Error(`no new leader and successful reconfigure within ${ROUND_LIMIT_MS} ms after killing ${old}`);

  const restartAt = performance.now();
  cluster.start(old);
  await until(`${old} to rejoin`, () => settled(cluster), 20_000, 10);
  return { leaderSeenMs, writeOkMs, newLeader, terms: newTerm - before.term, rejoinMs: performance.now() - restartAt };
}

// ------------------------------------------------------------ main

async function main(): Promise<void> {
  if (!fs.existsSync(PROGRAM)) {
    process.stderr.write(`bench:cm: ${PROGRAM} is missing; run npm run build first (npm run bench:cm does)\n`);
    process.exit(254);
  }
  const cluster = await LocalCmCluster.create({
    ids: IDS,
    program: [process.execPath, PROGRAM],
    args: ['--tick-ms', String(TICK_MS), '--election-ticks', String(ELECTION_TICKS), '--heartbeat-ticks', String(HEARTBEAT_TICKS)],
    logs: 'file',
  });
  // Whatever happens, no node outlives the benchmark and the temp dir goes.
  const onSignal = (sig: NodeJS.Signals) => {
    cluster.closeSync();
    process.stderr.write(`bench:cm: ${sig}: nodes killed, ${cluster.root} removed\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => cluster.closeSync());

  const started = performance.now();
  try {
    const disk = fsyncCost(cluster.root);
    say(`CM benchmark: 3 undertow-node processes on 127.0.0.1, fsync on, data in ${os.tmpdir()} (node ${process.version}, ${os.cpus().length} CPUs)\n`);
    say(
      `tick ${TICK_MS} ms, election timeout ${ELECTION_TICKS * TICK_MS}-${2 * ELECTION_TICKS * TICK_MS} ms (randomized), heartbeat every ${HEARTBEAT_TICKS * TICK_MS} ms; `,
    );
    say(`fsync of a small append here: p50 ${ms(disk.p50)} ms, p99 ${ms(disk.p99)} ms\n\n`);

    for (const id of IDS) cluster.start(id);
    await until('a leader', () => settled(cluster), 20_000);
    const admin = cluster.client();
    const must = async (what: string, r: Promise<CmResponse>) => {
      const x = await r;
      if (!x.ok) throw new Error(`${what} failed: ${JSON.stringify(x)}`);
    };
    for (const d of SERVERS) await must(`registerServer ${d}`, admin.request({ op: 'registerServer', id: d, address: `${d}.invalid:1` }));
    const maxK = Math.max(...CONCURRENCIES);
    const groups = Object.fromEntries([...Array.from({ length: maxK }, (_, i) => `g${i}`), 'failover'].map((g) => [g, layout(1)]));
    await must('createGroups', admin.request({ op: 'createGroups', groups }));

    // 1. Throughput and latency.
    await throughputRow(cluster, 8, WARMUP_SECONDS); // warm-up: JIT, connections, page cache
    const rows: Row[] = [];
    for (const k of CONCURRENCIES) {
      say(`  reconfigure, ${k} client(s), ${SECONDS} s ...\n`);
      rows.push(await throughputRow(cluster, k, SECONDS));
    }
    const tput = rows.map((r) => {
      const l = latencies(r.latencies);
      return [
        String(r.clients),
        String(r.ops),
        Math.round(r.ops / r.seconds).toLocaleString('en-US'),
        ms(l.p50),
        ms(l.p99),
        l.count >= 2000 ? ms(l.p999) : '-',
        ms(l.max),
        String(r.conflicts),
        String(r.errors),
      ];
    });
    say(`\nreconfigure (compare-and-set, one group per client), ${SECONDS} s per row\n\n`);
    say(table(['clients', 'ops', 'ops/s', 'p50 ms', 'p99 ms', 'p999 ms', 'max ms', 'conflicts', 'errors'], tput));

    // 2. Failover.
    say(`\nleader failover: kill -9 the leader, ${ROUNDS} rounds\n`);
    const writer = cluster.client(IDS, { timeoutMs: 5000, attemptMs: 1000 });
    const state = { version: 1 };
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      rounds.push(await failoverRound(cluster, writer, state));
      const r = rounds[rounds.length - 1];
      say(
        `  round ${String(i + 1).padStart(2)}: leader seen ${ms(r.leaderSeenMs).padStart(6)} ms, reconfigure ok ${ms(r.writeOkMs).padStart(6)} ms (new leader ${r.newLeader}, term +${r.terms}; killed node caught up ${Math.round(r.rejoinMs)} ms after restart)\n`,
      );
    }
    const stat = (xs: number[]) => {
      const [p50, p90] = quantilesOf(xs, [0.5, 0.9]);
      return [ms(p50), ms(p90), ms(Math.min(...xs)), ms(Math.max(...xs))];
    };
    say('\n');
    say(
      table(
        ['failover (from kill -9)', 'median ms', 'p90 ms', 'min ms', 'max ms'],
        [
          ['new leader seen (status)', ...stat(rounds.map((r) => r.leaderSeenMs))],
          ['first reconfigure ok', ...stat(rounds.map((r) => r.writeOkMs))],
        ],
      ),
    );
    const firstWon = rounds.filter((r) => r.terms === 1).length;
    say(
      `\nelection timeout ${ELECTION_TICKS * TICK_MS}-${2 * ELECTION_TICKS * TICK_MS} ms; the first election won in ${firstWon}/${ROUNDS} rounds (the others took more terms); killed node rejoined in median ${Math.round(median(rounds.map((r) => r.rejoinMs)))} ms (process start included)\n`,
    );
    say(`total ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  } catch (e) {
    for (const id of IDS) {
      const t = cluster.tail(id, 5);
      if (t.length > 0) process.stderr.write(`--- ${id} (last lines)\n${t.join('\n')}\n`);
    }
    throw e;
  } finally {
    await cluster.close();
  }
}

try {
  await main();
} catch (e) {
  process.stderr.write(`bench:cm: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 255;
}
