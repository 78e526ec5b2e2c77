// `undertow analyze` and `undertow report` on run folders recorded by the
// harness's own recorder and worker pool.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clients, limit } from '../../harness/core/generator/index.js';
import { Recorder } from '../../harness/core/recorder.js';
import { runWorkers } from '../../harness/run/workers.js';
import { createRun, writeJson } from '../../results/store.js';
import { registerOps, registerSystem } from './register-system.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'harness', 'cli.js');
const undertow = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** Records a register run into a new run folder of `store`; `lagMs` > 0 gives stale reads. */
async function recordRun(store: string, name: string, lagMs: number, at: Date) {
  const paths = createRun(store, name, at);
  writeJson(paths.test, { name, workload: 'register', seed: 7, concurrency: 4 });
  const recorder = new Recorder({ dir: paths.dir });
  const system = registerSystem(7, { stall: 0, dropBefore: 0.02, dropAfter: 0.02 }, lagMs);
  await runWorkers({
    generator: clients(limit(300, registerOps(2))),
    concurrency: 4,
    seed: 7,
    nodes: ['n1'],
    newClient: system.newClient,
    recorder,
    opTimeoutMs: 50,
  });
  recorder.close();
  return paths;
}

describe('undertow analyze', () => {
  it('checks the latest run with its workload checkers and writes results.json and report.html', async () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-store-'));
    const good = await recordRun(store, 'reg', 0, new Date('2026-01-01T00:00:00Z'));
    expect(readlinkSync(join(store, 'latest'))).toBe(join('reg', '20260101T000000.000Z'));
    const r = undertow('analyze', '--store', store);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^valid: .*reg\/20260101T000000\.000Z \(workload register\)/);
    expect(r.out).toMatch(/linearizable\s+valid/);
    const results = JSON.parse(readFileSync(good.results, 'utf8'));
    expect(results.verdict).toBe('valid');
    expect(Object.keys(results.results)).toEqual(['linearizable', 'stats', 'perf']);
    expect(readFileSync(good.report, 'utf8')).toContain('<canvas');

    // A newer run with stale reads: latest moves to it, and it is invalid.
    const bad = await recordRun(store, 'reg', 10, new Date('2026-01-02T00:00:00Z'));
    const r2 = undertow('analyze', '--store', store);
    expect(r2.code).toBe(1);
    expect(r2.out).toContain(bad.dir);
    expect(JSON.parse(readFileSync(bad.results, 'utf8')).results.linearizable.failures.length).toBeGreaterThan(0);

    // The older run by its path still checks valid; report rewrites only the page.
    expect(undertow('analyze', good.dir).code).toBe(0);
    rmSync(good.report);
    const rep = undertow('report', good.dir);
    expect(rep.code).toBe(0);
    expect(existsSync(good.report)).toBe(true);
  });

  it('refuses, in one line, a store with no runs, a folder that is not a run, and an unknown workload', async () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-store-'));
    for (const r of [undertow('analyze', '--store', store), undertow('analyze', join(store, 'nope'))]) {
      expect(r.code).toBe(254);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    expect(undertow('analyze', store).err).toContain('test.json');
    const paths = await recordRun(store, 'odd', 0, new Date('2026-01-03T00:00:00Z'));
    writeFileSync(paths.test, JSON.stringify({ workload: 'queue' }));
    const r = undertow('analyze', paths.dir);
    expect(r.code).toBe(254);
    expect(r.err).toContain('unknown workload "queue"');
  });
});
