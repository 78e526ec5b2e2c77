// Measures what libfaketime does to a Node process whose fake offset is
// rewritten at run time: Date.now, performance.now, process.hrtime, timers.
// The figures in docs/clock-faults.md come from this script:
//   npx vite-node nemesis/measure-faketime.ts
// It needs libfaketime (apt-get install -y faketime). Not part of the tests:
// it prints a table and asserts nothing.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable, Writable } from 'node:stream';
import { faketimeLibrary, writeOffset } from './clock.js';

// The probe reports its three clocks every 20 ms, counts a 100 ms interval,
// and arms a 1000 ms timeout when told to.
const PROBE = `
let ticks = 0;
setInterval(() => { ticks++; }, 100);
const report = (extra) => process.stdout.write(JSON.stringify({ d: Date.now(), p: performance.now(), h: Number(process.hrtime.bigint()) / 1e6, ticks, ...extra }) + '\\n');
setInterval(() => report({}), 20);
process.stdin.on('data', (b) => {
  for (const cmd of b.toString().trim().split('\\n')) {
    if (cmd === 'arm') setTimeout(() => report({ fired: true }), 1000);
    if (cmd === 'cost') {
      let t = process.hrtime.bigint(); for (let i = 0; i < 100000; i++) Date.now(); const wall = Number(process.hrtime.bigint() - t) / 1e5;
      t = process.hrtime.bigint(); for (let i = 0; i < 100000; i++) performance.now(); const mono = Number(process.hrtime.bigint() - t) / 1e5;
      report({ cost: wall, costMono: mono });
    }
    if (cmd === 'exit') process.exit(0);
  }
});
`;

interface Sample {
  d: number;
  p: number;
  h: number;
  ticks: number;
  fired?: boolean;
  cost?: number;
  costMono?: number;
  at: number;
}

class Probe {
  samples: Sample[] = [];
  exit: string | null = null;
  constructor(readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    child.on('exit', (code, signal) => {
      this.exit = signal ?? `exit ${code}`;
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.samples.push({ ...(JSON.parse(line) as Omit<Sample, 'at'>), at: Date.now() });
    });
  }
  send(cmd: string) {
    this.child.stdin.write(cmd + '\n');
  }
  last(): Sample {
    const s = this.samples.at(-1);
    if (!s) throw new Error('no sample yet');
    return s;
  }
}

async function spawnProbe(env: Record<string, string>): Promise<Probe> {
  const child = spawn(process.execPath, ['-e', PROBE], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  const probe = new Probe(child);
  while (probe.samples.length < 5) await sleep(20);
  return probe;
}

interface StepResult {
  died?: string;
  mode: string;
  step: string;
  visibleMs: number | null;
  wallSeen: number;
  monoJump: number;
  hrJump: number;
  timeoutFiredAfterMs: number | null;
  ticksIn2s: number;
}

async function step(probe: Probe, file: string, mode: string, offsetMs: number, label: string): Promise<StepResult> {
  const before = probe.last();
  const t0 = Date.now();
  writeOffset(file, offsetMs);
  probe.send('arm');
  const from = probe.samples.length;
  await sleep(2000);
  const after = probe.samples.slice(from);
  const seen = after.find((s) => Math.abs(s.d - s.at - offsetMs) < 200);
  // The largest step between consecutive samples beyond their true spacing.
  let monoJump = 0,
    hrJump = 0;
  let prev = before;
  for (const s of after) {
    const trueDt = s.at - prev.at;
    if (Math.abs(s.p - prev.p - trueDt) > Math.abs(monoJump)) monoJump = s.p - prev.p - trueDt;
    if (Math.abs(s.h - prev.h - trueDt) > Math.abs(hrJump)) hrJump = s.h - prev.h - trueDt;
    prev = s;
  }
  const fired = after.find((s) => s.fired);
  const last = after.at(-1) ?? before;
  return {
    died: probe.exit ?? undefined,
    mode,
    step: label,
    visibleMs: seen ? seen.at - t0 : null,
    wallSeen: Math.round(last.d - last.at),
    monoJump: Math.round(monoJump),
    hrJump: Math.round(hrJump),
    timeoutFiredAfterMs: fired ? fired.at - t0 : null,
    ticksIn2s: last.ticks - before.ticks,
  };
}

async function strobe(probe: Probe, file: string, mode: string): Promise<StepResult> {
  const before = probe.last();
  const t0 = Date.now();
  probe.send('arm');
  const from = probe.samples.length;
  for (let i = 0; i < 20; i++) {
    writeOffset(file, i % 2 === 0 ? 2000 : 0);
    await sleep(100);
  }
  writeOffset(file, 0);
  const after = probe.samples.slice(from);
  let monoJump = 0,
    hrJump = 0,
    prev = before;
  for (const s of after) {
    const trueDt = s.at - prev.at;
    if (Math.abs(s.p - prev.p - trueDt) > Math.abs(monoJump)) monoJump = s.p - prev.p - trueDt;
    if (Math.abs(s.h - prev.h - trueDt) > Math.abs(hrJump)) hrJump = s.h - prev.h - trueDt;
    prev = s;
  }
  const offsets = new Set(after.map((s) => Math.round((s.d - s.at) / 1000) * 1000));
  const fired = after.find((s) => s.fired);
  const last = after.at(-1) ?? before;
  return {
    mode,
    step: `strobe 0/+2 s every 100 ms (offsets seen: ${[...offsets].sort().join(', ')})`,
    visibleMs: null,
    wallSeen: Math.round(last.d - last.at),
    monoJump: Math.round(monoJump),
    hrJump: Math.round(hrJump),
    timeoutFiredAfterMs: fired ? fired.at - t0 : null,
    ticksIn2s: last.ticks - before.ticks,
  };
}

async function cost(probe: Probe): Promise<[number, number]> {
  const from = probe.samples.length;
  probe.send('cost');
  for (;;) {
    const c = probe.samples.slice(from).find((s) => s.cost !== undefined);
    if (c?.cost !== undefined) return [c.cost, c.costMono ?? NaN];
    await sleep(20);
  }
}

async function main() {
  const lib = faketimeLibrary();
  if (!lib) throw new Error('libfaketime not found: apt-get install -y faketime');
  const dir = mkdtempSync(join(tmpdir(), 'undertow-faketime-'));
  const file = join(dir, 'offset');
  const modes: Array<[string, Record<string, string>]> = [
    ['no preload', {}],
    ['fake monotonic, no cache', { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_NO_CACHE: '1' }],
    ['DONT_FAKE_MONOTONIC, no cache', { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' }],
    ['DONT_FAKE_MONOTONIC, cache 1 s', { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_CACHE_DURATION: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' }],
  ];
  const rows: StepResult[] = [];
  const costs: Array<[string, [number, number]]> = [];
  try {
    for (const [mode, env] of modes) {
      writeOffset(file, 0);
      const probe = await spawnProbe(env);
      try {
        const first = probe.last();
        console.error(`${mode}: start offset ${first.d - first.at} ms, hrtime ${first.h.toFixed(0)} ms, performance.now ${first.p.toFixed(0)} ms`);
        costs.push([mode, await cost(probe)]);
        if (mode === 'no preload') continue;
        rows.push(await step(probe, file, mode, 5000, '0 -> +5 s'));
        if (!probe.exit) rows.push(await step(probe, file, mode, -5000, '+5 s -> -5 s'));
        if (!probe.exit) rows.push(await step(probe, file, mode, 0, '-5 s -> 0'));
        if (!probe.exit) rows.push(await strobe(probe, file, mode));
        if (probe.exit)
          rows.push({
            mode,
            step: `the node process died: ${probe.exit}`,
            visibleMs: null,
            wallSeen: NaN,
            monoJump: NaN,
            hrJump: NaN,
            timeoutFiredAfterMs: null,
            ticksIn2s: NaN,
          });
      } finally {
        probe.send('exit');
        probe.child.kill('SIGKILL');
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    '| env | step | Date.now visible after (ms) | Date.now offset at end (ms) | largest performance.now jump (ms) | largest hrtime jump (ms) | 1000 ms setTimeout armed at the step fired after (ms) | 100 ms interval ticks in 2 s |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.mode} | ${r.step}${r.died ? ` (then the process died: ${r.died})` : ''} | ${r.visibleMs ?? '-'} | ${r.wallSeen} | ${r.monoJump} | ${r.hrJump} | ${r.timeoutFiredAfterMs ?? 'not within 2 s'} | ${r.ticksIn2s} |`,
    );
  console.log('\n| env | Date.now() (ns per call, 100k calls) | performance.now() (ns per call) |\n| --- | --- | --- |');
  for (const [mode, [wall, mono]] of costs) console.log(`| ${mode} | ${wall.toFixed(0)} | ${mono.toFixed(0)} |`);
}

await main();
