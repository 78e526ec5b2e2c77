// npm run bench:data [-- --seconds 60 --clients 32 --conns 32 --keys 1000 --groups 3 --read-ratio 0.5 --no-fsync --cpu-prof DIR]
//
// The data plane as real processes on 127.0.0.1: 3 `undertow-node cm` and 3
// `undertow-node data` (built program, replication 3, fsync on, default
// leases), driven through the client library (KvClient). CLIENTS concurrent
// loops, spread over CONNS KvClients (default one each: own connections, as a
// harness process has; fewer instances share connections, whose requests of
// one tick then leave in one write, as etcd's benchmark has --conns), issue
// back to back a read or a write (READ_RATIO reads) of a key drawn uniformly
// from KEYS keys. After a warm-up, for SECONDS it counts completed
// operations and takes every operation's latency (request to outcome at the
// client); quantiles from an HDR histogram (checkers/latency.ts). The
// machine's load average is printed with the table: the figures depend on
// whatever else runs on it. With --cpu-prof DIR every cluster process runs
// under `node --cpu-prof` and is stopped with SIGTERM at the end, so that its
// profile lands in DIR (open it in Chrome DevTools or speedscope).
//
// Every child is killed and the temp dir removed on the way out, also on
// error, SIGINT and SIGTERM.
//
// It stays, beside `undertow bench`, as the bare baseline: the client library
// in plain loops, no harness between. `undertow bench --concurrency 32`
// measures the same cluster and mix through the harness's adapter and loop
// (for any system), and README's Benchmarks section compares the two.

import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { quantilesOf } from '../checkers/latency.js';
import { cpuSeconds, cpuSplit, machineCpu } from '../harness/bench/machine.js';
import { table } from '../harness/bench/result.js';
import { groupOf, type KvClient, type KvOutcome } from '../system-under-test/client/index.js';
import { until } from '../system-under-test/runtime/local-cluster.js';
import { LocalKvCluster } from '../system-under-test/runtime/local-kv-cluster.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROGRAM = path.join(here, '..', 'system-under-test', 'bin', 'undertow-node.js');

function flags(): {
  seconds: number;
  warmup: number;
  clients: number;
  conns: number;
  keys: number;
  groups: number;
  readRatio: number;
  fsync: boolean;
  cpuProf: string | undefined;
} {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      seconds: { type: 'string', default: '60' },
      warmup: { type: 'string', default: '3' },
      clients: { type: 'string', default: '32' },
      conns: { type: 'string' },
      keys: { type: 'string', default: '1000' },
      groups: { type: 'string', default: '3' },
      'read-ratio': { type: 'string', default: '0.5' },
      'no-fsync': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
    },
    strict: true,
  });
  const num = (name: string, v: string, min: number, max = Infinity): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      process.stderr.write(`bench:data: --${name} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}\n`);
      process.exit(254);
    }
    return n;
  };
  return {
    seconds: num('seconds', values.seconds, 1),
    warmup: num('warmup', values.warmup, 0),
    clients: Math.floor(num('clients', values.clients, 1)),
    conns: Math.floor(num('conns', values.conns ?? values.clients, 1)),
    keys: Math.floor(num('keys', values.keys, 1)),
    groups: Math.floor(num('groups', values.groups, 1)),
    readRatio: num('read-ratio', values['read-ratio'], 0, 1),
    fsync: values['no-fsync'] !== true,
    cpuProf: values['cpu-prof'] === undefined ? undefined : path.resolve(values['cpu-prof']),
  };
}

async function main(): Promise<void> {
  const f = flags();
  const say = (s: string) => process.stdout.write(s);
  say(
    `bench:data — 3 CM + 3 data servers on 127.0.0.1, replication 3, fsync ${f.fsync ? 'on' : 'OFF'}, ${f.groups} groups; ${f.clients} clients over ${Math.min(f.conns, f.clients)} client instances, ${f.keys} keys, ${Math.round(f.readRatio * 100)}% reads; ${f.warmup} s warm-up, ${f.seconds} s measured\n`,
  );
  say(
    `machine: ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} before the run\n`,
  );
  const node = f.cpuProf === undefined ? [process.execPath] : [process.execPath, '--cpu-prof', `--cpu-prof-dir=${f.cpuProf}`];
  const cluster = await LocalKvCluster.start({ program: [...node, PROGRAM], groups: f.groups, replication: 3, dataArgs: f.fsync ? [] : ['--no-fsync'] });
  const cleanup = (): void => cluster.closeSync();
  process.once('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  try {
    const keys = Array.from({ length: f.keys }, (_, i) => `k${i}`);
    // Ready when every group takes a write.
    const probe = cluster.client({ timeoutMs: 2000 });
    const perGroup = new Map<string, string>();
    for (const k of keys) if (!perGroup.has(groupOf(k, f.groups))) perGroup.set(groupOf(k, f.groups), k);
    for (const k of perGroup.values()) await until(`a write of ${k}`, async () => ((await probe.write(k, 0)).type === 'ok' ? true : undefined), 60_000, 100);

    // CLIENTS concurrent loops over CONNS client-library instances (each its own connections),
    // as etcd's benchmark spreads --clients over --conns; loop i uses instance i mod CONNS.
    const instances = Array.from({ length: Math.min(f.conns, f.clients) }, () => cluster.client({ timeoutMs: 2000 }));
    const clients = Array.from({ length: f.clients }, (_, i) => instances[i % instances.length]);
    let measuring = false;
    let stop = false;
    const lat: number[] = [];
    const counts = { ok: 0, fail: 0, info: 0, reads: 0, writes: 0 };
    let seed = 12345;
    const rnd = (): number => {
      // xorshift: cheap and reproducible
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 4294967296;
    };
    const loop = async (kv: KvClient): Promise<void> => {
      while (!stop) {
        const key = keys[Math.floor(rnd() * keys.length)];
        const read = rnd() < f.readRatio;
        const t0 = performance.now();
        const r: KvOutcome = read ? await kv.read(key) : await kv.write(key, Math.floor(rnd() * 1e6));
        const ms = performance.now() - t0;
        if (!measuring) continue;
        counts[r.type]++;
        if (r.type === 'ok') {
          lat.push(ms);
          if (read) counts.reads++;
          else counts.writes++;
        }
      }
    };
    const loops = clients.map(loop);
    await new Promise((r) => setTimeout(r, f.warmup * 1000));
    measuring = true;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const procs = [...cluster.procs, ...cluster.cm.procs];
    const cpuOf = (): number[] => procs.map(([, p]) => cpuSeconds(p.pid)).map((s) => (Number.isNaN(s) ? 0 : s));
    const clusterCpu = (): number => cpuOf().reduce((a, b) => a + b, 0);
    const perProc0 = cpuOf();
    const machine0 = machineCpu();
    const clusterCpu0 = clusterCpu();
    await new Promise((r) => setTimeout(r, f.seconds * 1000));
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const clusterCpuS = clusterCpu() - clusterCpu0;
    const perProc = cpuOf().map((c, i) => c - perProc0[i]);
    const machine = cpuSplit(machine0, machineCpu());
    stop = true;
    await Promise.all(loops);
    const [p50, p99, p999] = quantilesOf(lat, [0.5, 0.99, 0.999]);
    const fmt = (x: number) => x.toFixed(2);
    say('\n');
    say(
      table(
        ['workload', 'ops/s', 'p50 ms', 'p99 ms', 'p999 ms', 'max ms', 'ok', 'fail', 'info'],
        [
          [
            `${Math.round(f.readRatio * 100)}% read / ${Math.round((1 - f.readRatio) * 100)}% write`,
            (counts.ok / elapsed).toFixed(0),
            fmt(p50),
            fmt(p99),
            fmt(p999),
            fmt(lat.length > 0 ? lat.reduce((m, x) => Math.max(m, x)) : NaN),
            String(counts.ok),
            String(counts.fail),
            String(counts.info),
          ],
        ],
      ),
    );
    say(
      `\nthe 6 cluster processes used ${clusterCpuS.toFixed(1)} CPU s (${(clusterCpuS / elapsed).toFixed(2)} cores), ${((clusterCpuS * 1e6) / Math.max(1, counts.ok)).toFixed(0)} µs of CPU per operation\n`,
    );
    say(`per process (µs of CPU per operation): ${procs.map(([id], i) => `${id} ${((perProc[i] * 1e6) / Math.max(1, counts.ok)).toFixed(0)}`).join(', ')}\n`);
    // Steal is time the hypervisor gave to other guests: a run with much of it measured a slower machine.
    say(`the machine's CPU time while measuring: ${machine} (irq: hard and soft interrupts; steal: taken by the hypervisor)\n`);
    say(
      `${counts.reads} reads and ${counts.writes} writes ok in ${elapsed.toFixed(1)} s; the bench process itself used ${(((cpu.user + cpu.system) / 1e6 / elapsed) * 100).toFixed(0)}% of a core; load average after ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}\n`,
    );
    // Batching at a glance: each data server's latest `stats` line (every 10 s), entries per disk write.
    for (const id of cluster.dataIds) {
      const line = cluster
        .tail(id, 200)
        .reverse()
        .find((l) => l.includes('"event":"stats"'));
      if (line === undefined) continue;
      const st = JSON.parse(line) as { appends: number; groups: Record<string, { diskWrites: number; entries: number; steps: number; role: string }> };
      const entries = Object.values(st.groups).reduce((n, c) => n + c.entries, 0);
      say(
        `${id} stats (last 10 s): ${st.appends} log appends (${(entries / Math.max(1, st.appends)).toFixed(1)} entries each); ${Object.entries(st.groups)
          .map(([g, c]) => `${g} ${c.role} ${c.diskWrites} writes, ${c.entries} entries, ${c.steps} steps`)
          .join('; ')}\n`,
      );
    }
    const g = await cluster.groups();
    if (g !== undefined)
      say(
        `groups at the end: ${Object.entries(g)
          .map(([n, c]) => `${n} v${c.version} ${c.primary}+${c.secondaries.join(',')}`)
          .join('; ')}\n`,
      );
    if (f.cpuProf !== undefined) {
      // A graceful stop writes the profiles (kill -9 would not).
      await Promise.all(
        procs.map(
          ([, p]) =>
            new Promise<void>((r) => {
              if (p.exitCode !== null || p.signalCode !== null) return r();
              p.once('exit', () => r());
              p.kill('SIGTERM');
            }),
        ),
      );
      say(`CPU profiles in ${f.cpuProf}\n`);
    }
  } finally {
    await cluster.close();
    process.off('exit', cleanup);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:data: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(255);
});
