// Clock faults on real child node processes under libfaketime (installed on
// this machine and in CI: apt-get install -y faketime). Margins are generous:
// the machine is shared, and only order-of-magnitude effects are asserted
// (a 5 s jump seen, no 5 s jump where there must be none).

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bump, clockNemesis, describeClockFault, faketimeEnv, faketimeLibrary, offsetSpec, reset, strobe, writeOffset } from '../../nemesis/clock.js';

// The child reports its wall clock, monotonic clock and a 100 ms interval's
// tick count every 20 ms, and arms a 500 ms timeout when told to.
const PROBE = `
let ticks = 0;
setInterval(() => { ticks++; }, 100);
const report = (extra) => process.stdout.write(JSON.stringify({ wall: Date.now(), mono: performance.now(), ticks, ...extra }) + '\\n');
setInterval(() => report({}), 20);
process.stdin.on('data', (b) => { if (b.toString().includes('arm')) setTimeout(() => report({ fired: true }), 500); });
process.stdin.on('end', () => process.exit(0));
`;

interface Sample {
  wall: number;
  mono: number;
  ticks: number;
  fired?: boolean;
  trueNow: number;
}

class Probe {
  readonly samples: Sample[] = [];
  exited: string | null = null;
  constructor(readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    child.on('exit', (code, signal) => {
      this.exited = signal ?? `code ${code}`;
    });
    createInterface({ input: child.stdout }).on('line', (l) => this.samples.push({ ...(JSON.parse(l) as Omit<Sample, 'trueNow'>), trueNow: Date.now() }));
  }
  /** The child's wall clock minus ours, at the last sample (pipe delay makes it a few ms low). */
  offset(s: Sample = this.last()): number {
    return s.wall - s.trueNow;
  }
  last(): Sample {
    const s = this.samples.at(-1);
    if (!s) throw new Error('the probe has not reported yet');
    return s;
  }
  async waitFor(pred: (s: Sample) => boolean, ms: number, from = 0): Promise<Sample | null> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.samples.slice(from).find(pred);
      if (hit || Date.now() > end || this.exited) return hit ?? null;
      await sleep(20);
    }
  }
}

let dir: string;
const probes: Probe[] = [];
const others: ChildProcessByStdio<Writable, Readable, null>[] = [];

async function startProbe(file: string, env: Record<string, string> = faketimeEnv(file)): Promise<Probe> {
  writeOffset(file, 0);
  const child = spawn(process.execPath, ['-e', PROBE], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  const p = new Probe(child);
  probes.push(p);
  expect(await p.waitFor(() => true, 20_000)).not.toBeNull();
  return p;
}

/** The largest step of the child's monotonic clock beyond the true time between two samples, from sample `from` on. */
function largestMonoJump(p: Probe, from: number): number {
  let worst = 0;
  const s = p.samples;
  for (let i = Math.max(1, from); i < s.length; i++) {
    const extra = Math.abs(s[i]!.mono - s[i - 1]!.mono - (s[i]!.trueNow - s[i - 1]!.trueNow));
    worst = Math.max(worst, extra);
  }
  return worst;
}

describe('libfaketime clock faults', () => {
  beforeAll(() => {
    // Not a skip: without libfaketime clock faults cannot run, and this says why.
    if (faketimeLibrary() === null) throw new Error('libfaketime is not installed: apt-get install -y faketime');
    dir = mkdtempSync(join(tmpdir(), 'undertow-clock-test-'));
  });
  afterEach(() => {
    for (const c of [...probes.splice(0).map((p) => p.child), ...others.splice(0)]) {
      c.stdin.end();
      c.kill('SIGKILL');
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("offsets are written in libfaketime's relative syntax, atomically", () => {
    expect(offsetSpec(5000)).toBe('+5.000');
    expect(offsetSpec(-250)).toBe('-0.250');
    expect(offsetSpec(0)).toBe('+0.000');
    expect(offsetSpec(-12_345.6)).toBe('-12.346');
    expect(() => offsetSpec(Number.NaN)).toThrow(RangeError);
    fc.assert(
      fc.property(fc.integer({ min: -1e9, max: 1e9 }), (ms) => {
        // What libfaketime does with the line: atof, seconds.
        expect(Math.round(Number.parseFloat(offsetSpec(ms)) * 1000)).toBe(ms);
      }),
    );
    const file = join(dir, 'spec');
    writeOffset(file, -1500);
    expect(readFileSync(file, 'utf8')).toBe('-1.500\n');
    expect(readdirSync(dir).filter((f) => f.startsWith('spec'))).toEqual(['spec']);
  });

  it("moves the child's Date.now by the offset soon after writeOffset; its monotonic clock and timers do not jump; reset returns to true time", async () => {
    const file = join(dir, 'n1');
    const p = await startProbe(file);
    expect(Math.abs(p.offset())).toBeLessThan(1000);

    for (const offsetMs of [5000, -5000, 0]) {
      const from = p.samples.length;
      const t0 = Date.now();
      writeOffset(file, offsetMs);
      p.child.stdin.write('arm\n');
      const seen = await p.waitFor((s) => Math.abs(p.offset(s) - offsetMs) < 1000, 10_000, from);
      expect(seen, `offset ${offsetMs} never showed in the child (exit: ${p.exited})`).not.toBeNull();
      // Measured: 2 to 20 ms; the bound is for a loaded machine.
      expect(seen!.trueNow - t0).toBeLessThan(5000);
      // The timeout armed at the jump fires after about its 500 ms, not 5 s early or late.
      const fired = await p.waitFor((s) => s.fired === true, 10_000, from);
      expect(fired).not.toBeNull();
      expect(fired!.trueNow - t0).toBeGreaterThanOrEqual(400);
      expect(fired!.trueNow - t0).toBeLessThan(4000);
      // The interval keeps ticking.
      const ticksBefore = p.last().ticks;
      expect(await p.waitFor((s) => s.ticks >= ticksBefore + 3, 10_000)).not.toBeNull();
      // No 5 s step anywhere in the monotonic clock.
      expect(largestMonoJump(p, from)).toBeLessThan(2500);
    }
    expect(Math.abs(p.offset())).toBeLessThan(1000);
    expect(p.exited).toBeNull();
  });

  it('without FAKETIME_DONT_FAKE_MONOTONIC the monotonic clock jumps with the wall clock (why faketimeEnv sets it)', async () => {
    const file = join(dir, 'mono');
    const { FAKETIME_DONT_FAKE_MONOTONIC: _, ...env } = faketimeEnv(file);
    const p = await startProbe(file, env);
    const from = p.samples.length;
    // Forward only: a backward step of a faked monotonic clock aborts Node (docs/clock-faults.md).
    writeOffset(file, 5000);
    expect(await p.waitFor((s) => Math.abs(p.offset(s) - 5000) < 1000, 10_000, from)).not.toBeNull();
    await sleep(200);
    expect(largestMonoJump(p, from)).toBeGreaterThan(4000);
  });

  it('a lease timed on the wall clock outlives a backward jump, one timed on the monotonic clock does not (wall-clock-lease vs the correct build)', async () => {
    const file = join(dir, 'lease');
    writeOffset(file, 0);
    // As the data server binds its clock: now = { mono: performance.now(), wall: Date.now() }.
    const LEASE = `
      const now = () => ({ mono: performance.now(), wall: Date.now() });
      const granted = now();
      process.stdout.write('granted\\n');
      process.stdin.once('data', () => {
        const t = now();
        process.stdout.write(JSON.stringify({ monoValid: t.mono - granted.mono < 1000, wallValid: t.wall - granted.wall < 1000 }) + '\\n');
        process.exit(0);
      });`;
    const child = spawn(process.execPath, ['-e', LEASE], { env: { ...process.env, ...faketimeEnv(file) }, stdio: ['pipe', 'pipe', 'inherit'] });
    others.push(child);
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
    const until = async (n: number) => {
      for (let i = 0; i < 500 && lines.length < n; i++) await sleep(20);
      return lines.length >= n;
    };
    expect(await until(1)).toBe(true);
    const t0 = Date.now();
    // A minute back: however late the machine lets the child answer, its wall clock says the lease is young.
    writeOffset(file, -60_000);
    // Ask after 1.5 s of true time: the 1 s lease has expired.
    await sleep(1500);
    child.stdin.write('check\n');
    expect(await until(2)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(JSON.parse(lines[1]!)).toEqual({ monoValid: false, wallValid: true });
  });

  it('each process has its own clock: moving one leaves another alone', async () => {
    const [f1, f2] = [join(dir, 'a'), join(dir, 'b')];
    const [p1, p2] = [await startProbe(f1), await startProbe(f2)];
    const from2 = p2.samples.length;
    writeOffset(f1, 8000);
    expect(await p1.waitFor((s) => Math.abs(p1.offset(s) - 8000) < 1000, 10_000)).not.toBeNull();
    await sleep(300);
    expect(p2.samples.slice(from2).every((s) => Math.abs(p2.offset(s)) < 1000)).toBe(true);
    // And the host clock (ours) was never touched: it still agrees with the untouched child.
    expect(Math.abs(p2.offset())).toBeLessThan(1000);
  });

  it('a strobe through the clock nemesis shows both offsets in the child and ends at the base offset', async () => {
    const file = join(dir, 's');
    const p = await startProbe(file);
    const nemesis = clockNemesis(async (_node, ms) => writeOffset(file, ms));
    const from = p.samples.length;
    const after = await nemesis.apply(strobe({ deltaMs: 4000, periodMs: 150, durationMs: 1500 }), ['s']);
    expect(after).toEqual({ s: 0 });
    await sleep(300);
    const offsets = p.samples.slice(from).map((s) => p.offset(s));
    expect(offsets.some((o) => Math.abs(o - 4000) < 1000)).toBe(true);
    expect(offsets.some((o) => Math.abs(o) < 1000)).toBe(true);
    expect(Math.abs(p.offset())).toBeLessThan(1000);
    expect(largestMonoJump(p, from)).toBeLessThan(2500);
  });
});

describe('the clock nemesis (over a recording setOffset)', () => {
  const recorder = () => {
    const calls: Array<[string, number]> = [];
    return {
      calls,
      nemesis: clockNemesis(async (node, ms) => {
        calls.push([node, ms]);
      }),
    };
  };

  it('bump sets, reset and resetAll return to zero, offsets() remembers', async () => {
    const { calls, nemesis } = recorder();
    expect(await nemesis.apply(bump(3000), ['n1', 'n2'])).toEqual({ n1: 3000, n2: 3000 });
    expect(await nemesis.apply(bump(-700), ['n2'])).toEqual({ n2: -700 });
    expect(nemesis.offsets()).toEqual({ n1: 3000, n2: -700 });
    expect(await nemesis.apply(reset, ['n1'])).toEqual({ n1: 0 });
    await nemesis.resetAll();
    expect(nemesis.offsets()).toEqual({ n1: 0, n2: 0 });
    expect(calls).toEqual([
      ['n1', 3000],
      ['n2', 3000],
      ['n2', -700],
      ['n1', 0],
      ['n2', 0],
    ]);
  });

  it("a strobe alternates around each node's own offset and restores it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -10_000, max: 10_000 }),
        fc.integer({ min: -5000, max: 5000 }).filter((d) => d !== 0),
        async (base, delta) => {
          const { calls, nemesis } = recorder();
          await nemesis.apply(bump(base), ['n1']);
          calls.length = 0;
          expect(await nemesis.apply(strobe({ deltaMs: delta, periodMs: 2, durationMs: 15 }), ['n1'])).toEqual({ n1: base });
          const seq = calls.map(([, ms]) => ms);
          expect(seq.length).toBeGreaterThanOrEqual(2);
          seq.forEach((ms, i) => expect(ms).toBe(i % 2 === 0 ? base + delta : base));
        },
      ),
      { numRuns: 20 },
    );
  });

  it('an aborted strobe stops early and still restores the offsets', async () => {
    const { calls, nemesis } = recorder();
    const stop = new AbortController();
    const t0 = performance.now();
    const run = nemesis.apply(strobe({ deltaMs: 2000, periodMs: 50, durationMs: 60_000 }), ['n1', 'n2'], stop.signal);
    await sleep(120);
    stop.abort();
    expect(await run).toEqual({ n1: 0, n2: 0 });
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(calls.at(-1)![1]).toBe(0);
  });

  it('faults describe themselves and refuse nonsense', () => {
    expect(describeClockFault(bump(-2000))).toBe('bump -2000 ms');
    expect(describeClockFault(strobe({ deltaMs: 100, periodMs: 10, durationMs: 1000 }))).toBe('strobe ±100 ms every 10 ms for 1000 ms');
    expect(describeClockFault(reset)).toBe('reset');
    expect(() => strobe({ deltaMs: 100, periodMs: 0, durationMs: 1000 })).toThrow(RangeError);
    expect(() => bump(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => faketimeEnv('/x', null)).toThrow(/apt-get install -y faketime/);
  });
});
