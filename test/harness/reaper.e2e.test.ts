// A harness killed with SIGKILL cleans up nothing itself: its reaper (a
// detached process watching a pipe only the harness holds) removes its nodes,
// rules, containers and networks within seconds, without waiting for another
// run. The history recorded until the kill stays on disk.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { leftoversOf, nothingLeft, type Leftovers } from '../../harness/run/leftovers.js';
import { testEngine } from '../docker/engine.js';
import { cli, lines, root } from './cli-run.js';

const engine = await testEngine();

/** Starts `undertow test ARGS`, SIGKILLs it once `after` ops are in its history, and returns its run folder. */
async function killMidRun(args: string[], after: number): Promise<string> {
  const store = mkdtempSync(join(tmpdir(), 'undertow-reaper-'));
  const child = spawn(process.execPath, [cli, 'test', '--store', store, ...args], { cwd: root, env: { ...process.env, CI: 'true' }, stdio: 'ignore' });
  const exited = new Promise((r) => child.on('exit', r));
  const runDir = () => (existsSync(join(store, 'latest')) ? realpathSync(join(store, 'latest')) : null);
  const deadline = Date.now() + 90_000;
  for (;;) {
    const dir = runDir();
    const history = dir === null ? null : join(dir, 'history.jsonl');
    if (history !== null && existsSync(history) && lines(history).length >= after) break;
    if (child.exitCode !== null) throw new Error(`the harness exited (${child.exitCode}) before ${after} ops`);
    if (Date.now() > deadline) throw new Error(`fewer than ${after} ops within 90 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  await exited;
  return runDir()!;
}

/** Polls until nothing of the run is left, up to `withinMs`; returns what was left last and when it went. */
async function waitForNothingLeft(runDir: string, withinMs: number): Promise<{ left: Leftovers; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const left = await leftoversOf(runDir);
    if (nothingLeft(left) || Date.now() - t0 > withinMs) return { left, ms: Date.now() - t0 };
    await new Promise((r) => setTimeout(r, 250));
  }
}

const common = ['--time-limit', '60', '--nemesis', 'partition', '--nemesis-interval', '1', '--rate', '100', '--seed', '3'];

describe('a SIGKILLed harness leaves nothing behind (the reaper)', () => {
  it('local: its node processes and iptables chains are gone within 10 s; the history so far is on disk', async () => {
    const runDir = await killMidRun(common, 300);
    expect(existsSync(join(runDir, 'nodes'))).toBe(true);
    const { left, ms } = await waitForNothingLeft(runDir, 10_000);
    expect(left, `after ${ms} ms`).toEqual({ processes: [], chains: [], containers: [], networks: [] });
    const history = lines(join(runDir, 'history.jsonl'));
    expect(history.length).toBeGreaterThanOrEqual(300);
    expect(readdirSync(join(runDir, 'nodes')).length).toBeGreaterThan(0);
  }, 120_000);

  it.skipIf(engine.missing !== null)(
    `docker: its containers and network are gone within 10 s${engine.missing !== null ? ` (skipped: ${engine.missing})` : ''}`,
    async () => {
      const runDir = await killMidRun(['--provider', 'docker', ...common], 200);
      const { left, ms } = await waitForNothingLeft(runDir, 10_000);
      expect(left, `after ${ms} ms`).toEqual({ processes: [], chains: [], containers: [], networks: [] });
      expect(lines(join(runDir, 'history.jsonl')).length).toBeGreaterThanOrEqual(200);
    },
    180_000,
  );
});
