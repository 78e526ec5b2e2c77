// The PacificA replica's file disk (system-under-test/runtime/replica-disk.ts),
// in-process, on a temp directory under os.tmpdir():
//
// 1. Group commit: W concurrent writers (W = 1, 8, 64), each calling
//    write([entry, commit]) back to back for SECONDS, with a checkpoint record
//    (100 keys) every CHECKPOINT_EVERY entries as the replica writes them;
//    fsync on and off. Reported: records/s, write() calls/s, fsyncs/s, records
//    per append (the group-commit batch) and write() latency; each cell is the
//    median over REPS runs.
// 2. Encoding and recovery: the cost of framing an entry record (JSON body +
//    CRC-32) and of decoding and folding one, and the time open() takes to
//    recover a log of RECOVERY_ENTRIES entries.
//
// Run: npx vite-node bench/replica-disk.ts   (about a minute). The temp
// directories are removed on the way out, also on error and SIGINT/SIGTERM.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quantilesOf } from '../checkers/latency.js';
import { table } from '../harness/bench/result.js';
import { median } from '../harness/bench/stats.js';
import type { LogEntry, PersistRecord } from '../system-under-test/pacifica/types.js';
import { scanRecords } from '../system-under-test/runtime/log-segment.js';
import { applyRecord, decodeRecord, emptyImage, encodeRecord } from '../system-under-test/runtime/replica-disk-format.js';
import { LOG_FILE, ReplicaLog } from '../system-under-test/runtime/replica-disk.js';

const WRITERS = [1, 8, 64];
const SECONDS = 2;
const REPS = 3;
const CHECKPOINT_EVERY = 1000;
const RECOVERY_ENTRIES = 100_000;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-bench-replica-disk-'));
const cleanup = () => fs.rmSync(root, { recursive: true, force: true });
process.once('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    cleanup();
    process.exit(130);
  });

let dirs = 0;
const freshDir = () => path.join(root, `d${dirs++}`);

const num = (x: number) => (Number.isNaN(x) ? '-' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x >= 10 ? 1 : 2));
const say = (s: string) => process.stdout.write(s);

const entry = (sn: number): LogEntry => ({ sn, version: 3, id: `c7-${sn}`, op: { f: 'write', key: `key-${sn % 100}`, value: sn } });
const kv = (sn: number) => Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key-${i}`, sn - i]));

// ------------------------------------------------------------ 1. group commit

interface Run {
  records: number;
  calls: number;
  syncs: number;
  appends: number;
  seconds: number;
  latencies: number[];
}

async function run(writers: number, fsync: boolean): Promise<Run> {
  const d = await ReplicaLog.open(freshDir(), { fsync, checkpointEvery: CHECKPOINT_EVERY });
  const g = d.replica('g0');
  let sn = 0;
  let records = 0;
  const latencies: number[] = [];
  const syncs0 = d.stats.syncs;
  const appends0 = d.stats.appends;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < end) {
        // sn is taken at call time: write() plans synchronously, so the entries stay contiguous.
        sn++;
        const rs: PersistRecord[] = [
          { kind: 'entry', entry: entry(sn) },
          { kind: 'commit', sn: sn - 1 },
        ];
        if ((sn - 1) % CHECKPOINT_EVERY === 0 && sn > 1) rs.push({ kind: 'checkpoint', checkpoint: { sn: sn - 1, version: 3, kv: kv(sn - 1) } });
        const t = performance.now();
        await g.write(rs);
        latencies.push(performance.now() - t);
        records += rs.length;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const r = {
    records,
    calls: latencies.length,
    syncs: d.stats.syncs - syncs0,
    appends: d.stats.appends - appends0,
    seconds,
    latencies: latencies.sort((a, b) => a - b),
  };
  await d.close();
  return r;
}

async function groupCommit(): Promise<void> {
  say(`1. group commit: ${SECONDS} s per run, median of ${REPS} runs; write([entry, commit]), a 100-key checkpoint every ${CHECKPOINT_EVERY} entries\n\n`);
  const rows: string[][] = [];
  for (const fsync of [true, false]) {
    for (const w of WRITERS) {
      const runs: Run[] = [];
      for (let i = 0; i < REPS; i++) runs.push(await run(w, fsync));
      const m = (f: (r: Run) => number) => median(runs.map(f));
      rows.push([
        fsync ? 'on' : 'off',
        String(w),
        num(m((r) => r.records / r.seconds)),
        num(m((r) => r.calls / r.seconds)),
        num(m((r) => r.syncs / r.seconds)),
        num(m((r) => r.records / Math.max(1, r.appends))),
        num(m((r) => quantilesOf(r.latencies, [0.5])[0])),
        num(m((r) => quantilesOf(r.latencies, [0.99])[0])),
      ]);
    }
  }
  say(table(['fsync', 'writers', 'records/s', 'writes/s', 'fsyncs/s', 'records/append', 'p50 ms', 'p99 ms'], rows));
  say('\n');
}

// ------------------------------------------------------------ 2. encoding and recovery

function perRecordNs(n: number, f: (i: number) => void): number {
  const times: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) f(i);
    times.push(((performance.now() - t) * 1e6) / n);
  }
  return median(times);
}

async function encodingAndRecovery(): Promise<void> {
  const n = 50_000;
  const encoded = Array.from({ length: n }, (_, i) => encodeRecord({ kind: 'entry', entry: entry(i + 1) }));
  const encodeNs = perRecordNs(n, (i) => encodeRecord({ kind: 'entry', entry: entry(i + 1) }));
  const scanned = scanRecords(Buffer.concat(encoded)).records;
  const decodeNs = perRecordNs(n, (i) => decodeRecord(scanned[i].type, scanned[i].payload));
  let image = emptyImage();
  const foldNs = perRecordNs(n, (i) => {
    if (i === 0) image = emptyImage();
    applyRecord(image, decodeRecord(scanned[i].type, scanned[i].payload));
  });

  // A log of RECOVERY_ENTRIES entries (checkpoints far apart), then open() on it.
  const dir = freshDir();
  const d = await ReplicaLog.open(dir, { fsync: false, checkpointEvery: RECOVERY_ENTRIES * 2 });
  for (let sn = 1; sn <= RECOVERY_ENTRIES; sn += 1000)
    await d.write(
      'g0',
      Array.from({ length: 1000 }, (_, i): PersistRecord => ({ kind: 'entry', entry: entry(sn + i) })),
    );
  await d.close();
  const bytes = fs.statSync(path.join(dir, LOG_FILE)).size;
  const opens: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const back = await ReplicaLog.open(dir, { fsync: false });
    opens.push(performance.now() - t);
    const got = back.replica('g0').state.entries.length;
    if (got !== RECOVERY_ENTRIES) throw new Error(`recovered ${got} entries`);
    await back.close();
  }

  say('2. encoding and recovery (median of 5 passes / 3 opens)\n\n');
  say(
    table(
      ['what', 'value'],
      [
        ['entry record size (bytes)', num(encoded[0].length)],
        ['encode entry record (JSON + CRC-32), ns', num(encodeNs)],
        ['decode entry record, ns', num(decodeNs)],
        ['decode + fold entry record, ns', num(foldNs)],
        [`open() of a ${(bytes / 1e6).toFixed(1)} MB log, ${RECOVERY_ENTRIES.toLocaleString('en-US')} entries, ms`, num(median(opens))],
      ],
    ),
  );
  say('\n');
}

function fsyncProbe(): { p50: number; p99: number } {
  const f = path.join(root, 'fsync-probe');
  const fd = fs.openSync(f, 'a');
  const times: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      fs.writeSync(fd, Buffer.alloc(128, 1));
      const t = performance.now();
      fs.fsyncSync(fd);
      times.push(performance.now() - t);
    }
  } finally {
    fs.closeSync(fd);
  }
  const [p50, p99] = quantilesOf(times, [0.5, 0.99]);
  return { p50, p99 };
}

async function main(): Promise<void> {
  const probe = fsyncProbe();
  say(`replica disk benchmark on ${root} (${os.cpus().length} cores); fsync of a 128-byte append: p50 ${num(probe.p50)} ms, p99 ${num(probe.p99)} ms\n\n`);
  await groupCommit();
  await encodingAndRecovery();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
