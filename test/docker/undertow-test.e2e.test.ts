// `undertow test --provider docker` as a user runs it: every node in its own
// container on a private network, the faults applied in the containers, and
// nothing of ours left afterwards, also after Ctrl-C in the middle of a
// partition. Needs a Docker engine (the test setup starts one as root); skips
// only when none can be had, and says why.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { expectCompleteRun, undertowTest, type Ran } from '../harness/cli-run.js';
import { dockerLeftovers, testEngine } from './engine.js';

const engine = await testEngine();
const skip = engine.missing !== null;

function expectDockerRun(r: Ran, workload: string) {
  const run = expectCompleteRun(r, workload);
  expect(run.test.provider).toBe('docker');
  expect(dockerLeftovers(r.run)).toEqual([]);
  return run;
}

const faultsOf = (nemesis: { type: string; f: string }[]) => nemesis.filter((op) => op.type === 'info').map((op) => op.f);
const common = ['--provider', 'docker', '--time-limit', '20', '--nemesis-interval', '2', '--quiet', '4', '--rate', '100', '--seed', '7'];

describe.skipIf(skip)(`undertow test --provider docker${skip ? ` (skipped: ${engine.missing})` : ''}`, () => {
  // Two kinds of fault a run (each kind's mechanism in the containers is what is tested here; the
  // workloads are the same code on every provider): every kind named must have acted.
  it.each([
    ['register', 'partition,clock', ['partition', 'clock-']],
    ['set', 'kill,pause', ['kill', 'pause']],
  ])(
    '%s under %s faults is valid on the correct build',
    async (workload, fault, opPrefixes) => {
      const r = await undertowTest(['--workload', workload, '--nemesis', fault, ...common]);
      const { results, nemesis } = expectDockerRun(r, workload);
      expect(results.verdict, r.err.slice(-2000)).toBe('valid');
      expect(r.code).toBe(0);
      const faults = faultsOf(nemesis);
      for (const prefix of opPrefixes)
        expect(
          faults.some((f: string) => f.startsWith(prefix)),
          `${prefix} in ${faults.join(' ')}`,
        ).toBe(true);
      expect(faults.at(-1)).toBe('heal-all');
    },
    120_000,
  );

  // The primary must not reach the CM either: it polls the CM, and would learn
  // of its successor at once. A 3 s lease makes the bug's window (grace = lease/2
  // < lease) long enough to see within a few partitions.
  it('catches --bug short-grace when a primary is cut off from its secondaries (and the CM)', async () => {
    const r = await undertowTest([
      '--workload',
      'register',
      '--nemesis',
      'partition',
      '--partitions',
      'primary-alone',
      '--bug',
      'short-grace',
      '--lease-ms',
      '3000',
      '--grace-ms',
      '3000',
      '--op-timeout',
      '1',
      '--provider',
      'docker',
      '--time-limit',
      '45',
      '--nemesis-interval',
      '3',
      '--quiet',
      '3',
      '--rate',
      '100',
      '--concurrency',
      '50',
      '--reads',
      '0.8',
      '--keys',
      '9',
      '--ops-per-key',
      '200',
      '--seed',
      '3',
    ]);
    const { results } = expectDockerRun(r, 'register');
    expect(results.results.linearizable.verdict).toBe('invalid');
    expect(r.code).toBe(1);
  }, 150_000);

  it('catches --bug read-without-lease when a primary is cut off from every other node', async () => {
    const r = await undertowTest([
      '--workload',
      'register',
      '--nemesis',
      'partition',
      '--partitions',
      'primary-alone',
      '--bug',
      'read-without-lease',
      '--provider',
      'docker',
      '--time-limit',
      '45',
      '--nemesis-interval',
      '3',
      '--quiet',
      '3',
      '--rate',
      '100',
      '--concurrency',
      '50',
      '--reads',
      '0.8',
      '--keys',
      '9',
      '--ops-per-key',
      '200',
      '--seed',
      '2',
    ]);
    const { results } = expectDockerRun(r, 'register');
    expect(results.results.linearizable.verdict).toBe('invalid');
    expect(r.code).toBe(1);
  }, 150_000);

  it('Ctrl-C in the middle of a partition leaves no container, network or iptables rule of ours', async () => {
    const r = await undertowTest(
      ['--workload', 'register', '--nemesis', 'partition', '--provider', 'docker', '--time-limit', '60', '--nemesis-interval', '1', '--seed', '4'],
      /\] ok [1-9]\d* .*faults: partition/,
    );
    expect(r.err).toMatch(/interrupted/);
    const { test } = expectDockerRun(r, 'register');
    expect(test.interrupted).toBe(true);
    expect(spawnSync('iptables', ['-w', '-S'], { encoding: 'utf8' }).stdout ?? '').not.toMatch(new RegExp(`UNDERTOW-${test.runId}`));
  }, 120_000);
});
