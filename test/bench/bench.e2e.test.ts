// `undertow bench` as a user runs it: the built CLI benchmarks the reference
// system on the local provider (a few seconds a point), leaves bench.json and
// a bench.html that loads in Chromium without errors, and nothing running;
// `undertow bench compare` does not flag two benches of the same build and
// does flag one made twice as slow.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../../harness/bench/result.js';
import { cli, processesOf, root } from '../harness/cli-run.js';
import { launchChromium, loadReport, paintedPixels } from '../results/browser.js';

interface Ran {
  code: number | null;
  out: string;
  err: string;
}

function undertow(args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, CI: 'true' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

async function bench(store: string, args: string[]): Promise<{ ran: Ran; dir: string; result: BenchResult }> {
  const ran = await undertow(['bench', '--store', store, '--seed', '7', ...args]);
  const dir = realpathSync(join(store, 'latest'));
  return { ran, dir, result: JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as BenchResult };
}

describe('undertow bench on the local provider (reference system)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('closed loops at 1 and 4 clients and an open loop at 100 ops/s: bench.json, bench.html in Chromium, nothing left running', async () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-bench-e2e-'));
    const { ran, dir, result } = await bench(store, [
      '--concurrency',
      '1,4',
      '--rate',
      '100',
      '--duration',
      '2',
      '--warmup',
      '1',
      '--repeat',
      '1',
      '--keys',
      '100',
    ]);
    expect(ran.code, ran.err.slice(-2000)).toBe(0);
    expect(processesOf(dir)).toEqual([]);
    expect(result.failure).toBeNull();
    expect(result.points.map((p) => p.id)).toEqual(['closed c=1', 'closed c=4', 'open 100/s (32 clients)']);
    expect(result.config).toMatchObject({
      system: 'reference',
      provider: 'local',
      workload: 'register',
      concurrency: [1, 4],
      rates: [100],
      durationS: 2,
      warmupS: 1,
    });
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.machine.loadavg).toHaveLength(3);
    for (const p of result.points) {
      expect(p.ok, p.id).toBeGreaterThan(20);
      expect(p.fail + p.info, p.id).toBe(0);
      expect(p.throughput).toBeCloseTo(p.ok / 2, 1);
      expect(Object.keys(p.histograms).sort()).toEqual(['read', 'write']);
      expect(p.latency.count).toBe(p.ok);
      expect(p.latency.p50).toBeGreaterThan(0);
      expect(p.latency.p99).toBeGreaterThanOrEqual(p.latency.p50);
      expect(p.seconds).toHaveLength(2);
      expect(p.cpu.harnessUsPerOp).toBeGreaterThan(0);
      expect(p.cpu.clusterUsPerOp).toBeGreaterThan(0);
      expect(Object.keys(p.cpu.machine)).toEqual(expect.arrayContaining(['user', 'system', 'idle', 'steal']));
    }
    // The open loop sent its 200 due ops (100/s for 2 s), all of them, unless the machine could not keep up.
    const open = result.points[2];
    expect(open.ok + open.unsent).toBeGreaterThanOrEqual(195);
    expect(ran.out).toMatch(/bench: .*bench\.html/);
    expect(ran.err).toMatch(/closed c=4 +\d+/);

    const { page, errors, requests } = await loadReport(browser, join(dir, 'bench.html'));
    expect(errors).toEqual([]);
    expect(requests.every((u) => u.startsWith('file://'))).toBe(true);
    expect(await page.$$eval('#figures tr', (rows) => rows.length)).toBe(4);
    const painted = await paintedPixels(page, '#curve canvas, #spectrum canvas, #tput-time canvas, #lat-time canvas');
    expect(painted).toHaveLength(4);
    for (const n of painted) expect(n).toBeGreaterThan(5_000);
    await page.close();
  }, 120_000);

  it('compare: two benches of the same build are within the noise; one twice as slow is flagged worse (exit 1)', async () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-bench-cmp-'));
    const args = ['--concurrency', '4', '--duration', '1', '--warmup', '0.5', '--repeat', '4', '--keys', '100'];
    const a = await bench(store, args);
    const b = await bench(store, args);
    expect(a.ran.code, a.ran.err.slice(-2000)).toBe(0);
    expect(b.ran.code, b.ran.err.slice(-2000)).toBe(0);
    expect(a.result.points).toHaveLength(4);

    const same = await undertow(['bench', 'compare', a.dir, b.dir]);
    expect(same.code, same.out + same.err).toBe(0);
    expect(same.out).toMatch(/0 figure\(s\) worse/);
    expect(existsSync(join(b.dir, 'compare.html'))).toBe(true);

    // B made twice as slow: the same bench with every throughput halved and every latency and CPU figure doubled.
    const slow = structuredClone(b.result);
    for (const p of slow.points) {
      p.throughput /= 2;
      for (const k of ['p50', 'p95', 'p99', 'p999', 'max', 'mean'] as const) p.latency[k] *= 2;
      p.cpu.clusterUsPerOp = p.cpu.clusterUsPerOp === null ? null : p.cpu.clusterUsPerOp * 2;
    }
    const slowDir = join(store, 'slow');
    mkdirSync(slowDir);
    writeFileSync(join(slowDir, 'bench.json'), JSON.stringify(slow));
    const worse = await undertow(['bench', 'compare', a.dir, slowDir, '--html', join(slowDir, 'cmp.html')]);
    expect(worse.code, worse.out + worse.err).toBe(1);
    // Which figures clear the noise depends on how noisy this machine was over 1-second runs; some must, none may look better.
    expect(worse.out).toMatch(/closed c=4\s+(throughput ops\/s|p50 ms|p99 ms|p999 ms) .* worse/);
    expect(worse.out).toMatch(/[1-9]\d* figure\(s\) worse, 0 better/);
    const { errors } = await loadReport(browser, join(slowDir, 'cmp.html'));
    expect(errors).toEqual([]);

    // A folder that is no bench is one line and exit 254.
    const bad = await undertow(['bench', 'compare', a.dir, store]);
    expect(bad.code).toBe(254);
    expect(bad.err).toMatch(/^undertow: cannot read bench results .*bench\.json/);
  }, 120_000);
});
