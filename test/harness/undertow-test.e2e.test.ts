// `undertow test` as a user runs it: the built CLI starts a real cluster of
// the reference system on the local provider, runs a workload with faults,
// and leaves a complete run folder, a verdict and nothing running.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { faultsOf, healerOf } from '../../results/report-data.js';
import { cli, expectCompleteRun, root, undertowTest } from './cli-run.js';

const short = ['--time-limit', '15', '--nemesis-interval', '2', '--quiet', '4', '--rate', '150', '--seed', '5'];

describe('undertow test on the local provider', () => {
  // register: with partitions too, overlapping, below.
  it.each([
    ['set', 'kill,pause,clock'],
    ['append', 'kill,pause,clock'],
    ['bank', 'kill,pause,clock'],
  ])(
    '%s under %s faults is valid on the correct build',
    async (workload, faults) => {
      const r = await undertowTest(['--workload', workload, '--nemesis', faults, ...short]);
      const { results, history, nemesis } = expectCompleteRun(r, workload);
      expect(r.out).toMatch(new RegExp(`^valid: .*\\(workload ${workload}\\)`));
      expect(results.verdict).toBe('valid');
      expect(r.code).toBe(0);
      // Ops happened, faults happened, and each started fault was healed.
      expect(history.filter((op: { type: string }) => op.type === 'ok').length).toBeGreaterThan(200);
      const faultOps = nemesis.filter((op: { type: string }) => op.type === 'info').map((op: { f: string }) => op.f);
      expect(faultOps.length).toBeGreaterThanOrEqual(4);
      expect(faultOps.at(-1)).toBe('heal-all');
      // Plain progress lines under CI=true.
      expect(r.err).toMatch(/\[\s+\d+s \/ 15s\] ok \d+ {2}fail \d+ {2}info \d+ {2}faults: /);
    },
    120_000,
  );

  it('register under overlapping kill, pause, partition and clock faults (--nemesis-overlap) is valid, with faults of several kinds in force at once', async () => {
    const r = await undertowTest(['--workload', 'register', '--nemesis', 'kill,pause,partition,clock', '--nemesis-overlap', ...short]);
    const { results, history, test } = expectCompleteRun(r, 'register');
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(r.code).toBe(0);
    expect(test.nemesisOverlap).toBe(true);
    // The report's fault intervals: one of a kind began while one of another kind was in force.
    const { faults } = faultsOf(history, 0, Infinity);
    const overlap = faults.some((a) =>
      faults.some((b) => healerOf(a.f) !== healerOf(b.f) && a.startIndex < b.startIndex && b.startIndex < (a.endIndex ?? Infinity)),
    );
    expect(overlap, JSON.stringify(faults.map((f) => [f.f, f.startIndex, f.endIndex]))).toBe(true);
  }, 120_000);

  // Stale reads reach clients only from a primary that wakes up to requests
  // of clients still holding its configuration: many mostly idle clients, and
  // short leases so that most pauses outlast the grace period. Caught on seeds 11, 12 and 13 of 11-13
  // when this was written (a seed pins the faults: their own random stream); 40 s, not 60: two runs of 35 s both
  // caught it (one's first stale read 13.6 s in; December 2026).
  it('catches --bug read-without-lease with pause faults: register is invalid', async () => {
    const r = await undertowTest([
      '--workload',
      'register',
      '--nemesis',
      'pause',
      '--bug',
      'read-without-lease',
      '--time-limit',
      '40',
      '--nemesis-interval',
      '2',
      '--lease-ms',
      '500',
      '--grace-ms',
      '700',
      '--quiet',
      '3',
      '--rate',
      '100',
      '--concurrency',
      '200',
      '--reads',
      '0.8',
      '--keys',
      '9',
      '--ops-per-key',
      '200',
      // Pauses aimed at primaries (a setting a user would pick: Jepsen's record says pauses aimed at leaders find the most).
      '--targets',
      'primary',
      '--seed',
      '11',
    ]);
    const { results } = expectCompleteRun(r, 'register');
    expect(results.results.linearizable.verdict).toBe('invalid');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^invalid: /);
  }, 150_000);

  // A primary whose wall clock jumps back keeps a lease it lost while it is cut off from every
  // other node: the two faults must overlap (one fault at a time never caught it).
  it('catches --bug wall-clock-lease with overlapping clock and primary-alone partition faults', async () => {
    const r = await undertowTest([
      '--workload',
      'register',
      '--nemesis',
      'clock,partition',
      '--partitions',
      'primary-alone',
      '--nemesis-overlap',
      '--bug',
      'wall-clock-lease',
      '--time-limit',
      '60',
      '--nemesis-interval',
      '1.5',
      '--quiet',
      '3',
      '--rate',
      '100',
      '--concurrency',
      '100',
      '--reads',
      '0.8',
      '--keys',
      '9',
      '--ops-per-key',
      '200',
      '--seed',
      '10',
    ]);
    const { results } = expectCompleteRun(r, 'register');
    expect(results.results.linearizable.verdict).toBe('invalid');
    expect(r.code).toBe(1);
  }, 150_000);

  it('Ctrl-C in the middle of a run stops, tears the cluster down, and still checks and writes what was recorded', async () => {
    const r = await undertowTest(
      ['--workload', 'register', '--nemesis', 'kill', '--time-limit', '60', '--nemesis-interval', '1', '--seed', '3'],
      /\] ok [1-9]\d* .*faults: kill/,
    );
    expect(r.err).toMatch(/interrupted/);
    const { test, results, history } = expectCompleteRun(r, 'register');
    expect(test.interrupted).toBe(true);
    expect(history.length).toBeGreaterThan(0);
    expect(['valid', 'unknown']).toContain(results.verdict);
    expect(spawnSync('iptables', ['-w', '-S'], { encoding: 'utf8' }).stdout ?? '').not.toMatch(/UNDERTOW-/);
  }, 120_000);

  it('refuses bad flags in one line with exit 254', async () => {
    const r = spawnSync(process.execPath, [cli, 'test', '--nemesis', 'flood'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(254);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown fault "flood"/);
    const help = spawnSync(process.execPath, [cli, 'test', '--help'], { cwd: root, encoding: 'utf8' });
    for (const flag of [
      '--workload',
      '--nemesis',
      '--nodes',
      '--provider',
      '--concurrency',
      '--rate',
      '--time-limit',
      '--seed',
      '--store',
      '--bug',
      '--test-count',
    ])
      expect(help.stdout).toContain(flag);
  });
});
