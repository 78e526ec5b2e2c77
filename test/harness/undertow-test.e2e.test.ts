// `undertow test` as a user runs it: the built CLI starts a real cluster of
// the reference system on the local provider, runs a workload with faults,
// and leaves a complete run folder, a verdict and nothing running.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'harness', 'cli.js');

interface Ran {
  code: number | null;
  out: string;
  err: string;
  run: string;
}

/** Runs `undertow test ARGS` in a fresh store; `interruptAfter` sends SIGINT once that text appears on stderr. */
function undertowTest(args: string[], interruptAfter?: RegExp): Promise<Ran> {
  const store = mkdtempSync(join(tmpdir(), 'undertow-e2e-'));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'test', '--store', store, ...args], { cwd: root, env: { ...process.env, CI: 'true' } });
    let out = '';
    let err = '';
    let sent = false;
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      err += d;
      if (interruptAfter && !sent && interruptAfter.test(err)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('exit', (code) => {
      const latest = join(store, 'latest');
      resolve({ code, out, err, run: existsSync(latest) ? realpathSync(latest) : '' });
    });
  });
}

/** undertow-node processes whose command line names this run folder. */
function processesOf(runDir: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
        return cmd.includes('undertow-node') && cmd.includes(runDir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

function expectCompleteRun(r: Ran, workload: string) {
  expect(r.run).not.toBe('');
  for (const f of ['test.json', 'history.jsonl', 'nemesis.jsonl', 'results.json', 'report.html', 'harness.log']) expect(existsSync(join(r.run, f)), f).toBe(true);
  const test = JSON.parse(readFileSync(join(r.run, 'test.json'), 'utf8'));
  expect(test.workload).toBe(workload);
  expect(Number.isSafeInteger(test.seed)).toBe(true);
  expect(test.endedAt).toBeTruthy();
  for (const n of ['n1', 'n2', 'n3', 'd1', 'd2', 'd3']) expect(readFileSync(join(r.run, 'nodes', n, `${n}.log`), 'utf8').length, n).toBeGreaterThan(0);
  expect(processesOf(r.run)).toEqual([]);
  return { test, results: JSON.parse(readFileSync(join(r.run, 'results.json'), 'utf8')), history: lines(join(r.run, 'history.jsonl')), nemesis: lines(join(r.run, 'nemesis.jsonl')) };
}

const short = ['--time-limit', '15', '--nemesis-interval', '2', '--quiet', '4', '--rate', '150', '--seed', '5'];

describe('undertow test on the local provider', () => {
  it.each([
    ['register', 'kill,pause,clock'],
    ['set', 'kill,pause,clock'],
    ['append', 'kill,pause,clock'],
    ['bank', 'kill,pause,clock'],
  ])('%s under %s faults is valid on the correct build', async (workload, faults) => {
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
  }, 120_000);

  it('catches --bug read-without-lease with pause faults: register is invalid', async () => {
    const r = await undertowTest(['--workload', 'register', '--nemesis', 'pause', '--bug', 'read-without-lease', '--time-limit', '60', '--nemesis-interval', '3', '--quiet', '3', '--rate', '100', '--concurrency', '50', '--reads', '0.8', '--keys', '9', '--ops-per-key', '1000', '--seed', '2']);
    const { results } = expectCompleteRun(r, 'register');
    expect(results.results.linearizable.verdict).toBe('invalid');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^invalid: /);
  }, 150_000);

  it('Ctrl-C in the middle of a run stops, tears the cluster down, and still checks and writes what was recorded', async () => {
    const r = await undertowTest(['--workload', 'register', '--nemesis', 'kill', '--time-limit', '60', '--nemesis-interval', '1', '--seed', '3'], /\] ok [1-9]\d* .*faults: kill/);
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
    for (const flag of ['--workload', '--nemesis', '--nodes', '--provider', '--concurrency', '--rate', '--time-limit', '--seed', '--store', '--bug', '--test-count']) expect(help.stdout).toContain(flag);
  });
});
