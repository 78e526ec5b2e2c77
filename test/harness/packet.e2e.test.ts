// `undertow test --nemesis packet` as a user runs it (the built CLI, the
// reference system on the local provider): valid on the correct build, every
// packet fault in history.jsonl and nemesis.jsonl with its nodes and
// settings and healed, composable with partitions (--nemesis-overlap), and
// nothing of tc left on lo after the run or after Ctrl-C. Where the kernel
// has no netem (delay, loss, duplicate, reorder) the faults are rate limits,
// and asking for the others is one line and exit 254.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chainName } from '../../nemesis/iptables.js';
import { packetUsable } from '../../nemesis/packet.js';
import { faultsOf } from '../../results/report-data.js';
import { expectLoClean, minorsOf } from '../nemesis/packet-lo.js';
import { cli, expectCompleteRun, processesOf, root, undertowTest } from './cli-run.js';

const usable = await packetUsable(['rate']);
const netem = await packetUsable(['delay']);
if (!usable.ok) console.warn(`packet e2e skipped: ${usable.why}`);
else if (!netem.ok) console.warn(`packet e2e: rate limits only, ${netem.why}`);
/** All kinds where the kernel has netem, else the rate limit (the only kind without it). */
const kinds = netem.ok ? [] : ['--packet', 'rate'];

/** Nothing of a run's packet faults on lo: no class or filter of ours, our root only if another live run holds a class. */
async function expectNoTcOf(run: string) {
  const test = JSON.parse(readFileSync(join(run, 'test.json'), 'utf8'));
  expect(existsSync(join(tmpdir(), 'undertow-local', `${test.runId}.json`))).toBe(false);
  await expectLoClean(minorsOf(test.runId));
}

interface NemOp {
  type: string;
  f: string;
  value: { nodes?: string[]; netem?: Record<string, number>; target?: string; healed?: boolean; packet?: boolean } | null;
}

describe.skipIf(!usable.ok)('undertow test --nemesis packet on the local provider', () => {
  it('is valid on the correct build; every packet fault is recorded with its nodes and settings, healed, and leaves lo as it was', async () => {
    const r = await undertowTest(['--nemesis', 'packet', ...kinds, '--time-limit', '14', '--nemesis-interval', '2', '--quiet', '3', '--seed', '11']);
    const { results, history, nemesis, test } = expectCompleteRun(r, 'register');
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(r.code).toBe(0);
    expect(test.nemesis).toEqual(['packet']);
    expect(test.packet).toEqual(netem.ok ? ['delay', 'loss', 'duplicate', 'reorder', 'rate'] : ['rate']);
    const done = (nemesis as NemOp[]).filter((op) => op.type === 'info');
    const packets = done.filter((op) => op.f === 'packet');
    expect(packets.length).toBeGreaterThanOrEqual(2);
    for (const p of packets) {
      expect(p.value!.nodes!.length).toBeGreaterThan(0);
      for (const n of p.value!.nodes!) expect(['d1', 'd2', 'd3', 'n1', 'n2', 'n3']).toContain(n);
      expect(Object.keys(p.value!.netem!).length).toBeGreaterThan(0);
      if (!netem.ok) expect(Object.keys(p.value!.netem!)).toEqual(['rateKbit']);
    }
    // The same ops in history.jsonl, and every packet interval healed (packet-clear or heal-all).
    expect((history as NemOp[]).filter((op) => op.f === 'packet' && op.type === 'info')).toEqual(packets);
    const intervals = faultsOf(history, 0, Infinity).faults.filter((f) => f.f === 'packet');
    expect(intervals.length).toBe(packets.length);
    expect(intervals.every((f) => f.healed)).toBe(true);
    const healAll = done.at(-1)!;
    expect(healAll.f).toBe('heal-all');
    expect(typeof healAll.value!.packet).toBe('boolean');
    expect(readFileSync(join(r.run, 'report.html'), 'utf8')).toContain('packet');
    await expectNoTcOf(r.run);
  }, 120_000);

  it('etcd (members told apart by owner: iptables CLASSIFY, no filter) is valid with packet faults, and no mangle chain or class is left', async () => {
    const r = await undertowTest([
      '--system',
      'etcd',
      '--nemesis',
      'packet',
      ...kinds,
      '--time-limit',
      '14',
      '--nemesis-interval',
      '2',
      '--quiet',
      '3',
      '--seed',
      '15',
    ]);
    const { results, nemesis } = expectCompleteRun(r, 'register', ['e1', 'e2', 'e3']);
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(r.code).toBe(0);
    const packets = (nemesis as NemOp[]).filter((op) => op.type === 'info' && op.f === 'packet');
    expect(packets.length).toBeGreaterThanOrEqual(2);
    for (const p of packets) for (const n of p.value!.nodes!) expect(['e1', 'e2', 'e3']).toContain(n);
    const { runId } = JSON.parse(readFileSync(join(r.run, 'test.json'), 'utf8'));
    expect(execFileSync('iptables', ['-w', '30', '-t', 'mangle', '-S'], { encoding: 'utf8' })).not.toContain(chainName(`${runId}-q`));
    await expectNoTcOf(r.run);
  }, 120_000);

  it('composes with partitions (--nemesis-overlap): valid, with a packet fault and a partition in force at once', async () => {
    const r = await undertowTest([
      '--nemesis',
      'packet,partition',
      ...kinds,
      '--nemesis-overlap',
      '--time-limit',
      '14',
      '--nemesis-interval',
      '2',
      '--quiet',
      '3',
      '--seed',
      '12',
    ]);
    const { results, history } = expectCompleteRun(r, 'register');
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(r.code).toBe(0);
    const { faults } = faultsOf(history, 0, Infinity);
    const overlap = faults.some(
      (a) => a.f === 'packet' && faults.some((b) => b.f === 'partition' && b.startIndex < (a.endIndex ?? Infinity) && a.startIndex < (b.endIndex ?? Infinity)),
    );
    expect(overlap, JSON.stringify(faults.map((f) => [f.f, f.startIndex, f.endIndex]))).toBe(true);
    await expectNoTcOf(r.run);
  }, 120_000);

  it('Ctrl-C while a packet fault is in force tears it down: lo as it was, the run checked', async () => {
    const r = await undertowTest(
      ['--nemesis', 'packet', ...kinds, '--time-limit', '60', '--nemesis-interval', '1', '--seed', '13'],
      /\] ok [1-9]\d* .*faults: packet /,
    );
    expect(r.err).toMatch(/faults: packet [dn]\d/);
    expect(r.run).not.toBe('');
    const test = JSON.parse(readFileSync(join(r.run, 'test.json'), 'utf8'));
    expect(test.interrupted).toBe(true);
    expect(existsSync(join(r.run, 'results.json'))).toBe(true);
    await expectNoTcOf(r.run);
  }, 120_000);

  it('a SIGKILLed harness: its reaper removes its class on lo, its registry and its nodes within 10 s', async () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-e2e-'));
    // Long holds (2.5 to 17.5 s): killed while the fault is surely in force, not in the middle of its clearing.
    const args = ['test', '--store', store, '--nemesis', 'packet', ...kinds, '--time-limit', '60', '--nemesis-interval', '10', '--seed', '14'];
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, CI: 'true' } });
    const exited = new Promise((r) => child.once('exit', r));
    let inForce = false;
    for (let i = 0; i < 600 && !inForce && child.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const file = join(store, 'latest', 'nemesis.jsonl');
      const last = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').at(-1) : undefined;
      inForce = last !== undefined && last !== '' && /"type":"info".*"f":"packet",/.test(last);
    }
    child.kill('SIGKILL');
    await exited;
    expect(inForce).toBe(true);
    const run = realpathSync(join(store, 'latest'));
    const { runId } = JSON.parse(readFileSync(join(run, 'test.json'), 'utf8'));
    const registry = join(tmpdir(), 'undertow-local', `${runId}.json`);
    // The reaper (the harness's own, outliving it) runs the provider's cleanupLeftovers: registry, class, nodes.
    const deadline = Date.now() + 10_000;
    while ((existsSync(registry) || processesOf(run).length > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(registry)).toBe(false);
    expect(processesOf(run)).toEqual([]);
    await expectLoClean(minorsOf(runId));
  }, 120_000);

  it.skipIf(netem.ok)(
    'without netem in the kernel, the netem kinds are refused in one line, exit 254',
    async () => {
      const r = await undertowTest(['--nemesis', 'packet', '--packet', 'delay,rate', '--time-limit', '5']);
      expect(r.code).toBe(254);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/--packet delay needs the kernel's netem qdisc/);
    },
    60_000,
  );
});
