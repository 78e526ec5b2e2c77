// Running `undertow test` as a user does, for the end-to-end tests: the built
// CLI in a child process with a fresh store, and what a complete run folder
// must hold afterwards.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { processesOf } from '../../harness/run/leftovers.js';

export { processesOf };

export const root = join(import.meta.dirname, '..', '..');
export const cli = join(root, 'dist', 'harness', 'cli.js');

export interface Ran {
  code: number | null;
  out: string;
  err: string;
  run: string;
}

/** Runs `undertow test ARGS` in a fresh store; `interruptAfter` sends SIGINT once that text appears on stderr. */
export function undertowTest(args: string[], interruptAfter?: RegExp): Promise<Ran> {
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

export const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

export function expectCompleteRun(r: Ran, workload: string, nodes = ['n1', 'n2', 'n3', 'd1', 'd2', 'd3']) {
  expect(r.run).not.toBe('');
  for (const f of ['test.json', 'history.jsonl', 'nemesis.jsonl', 'results.json', 'report.html', 'harness.log'])
    expect(existsSync(join(r.run, f)), f).toBe(true);
  const test = JSON.parse(readFileSync(join(r.run, 'test.json'), 'utf8'));
  expect(test.workload).toBe(workload);
  expect(Number.isSafeInteger(test.seed)).toBe(true);
  expect(test.endedAt).toBeTruthy();
  for (const n of nodes) expect(readFileSync(join(r.run, 'nodes', n, `${n}.log`), 'utf8').length, n).toBeGreaterThan(0);
  expect(processesOf(r.run)).toEqual([]);
  return {
    test,
    results: JSON.parse(readFileSync(join(r.run, 'results.json'), 'utf8')),
    history: lines(join(r.run, 'history.jsonl')),
    nemesis: lines(join(r.run, 'nemesis.jsonl')),
  };
}
