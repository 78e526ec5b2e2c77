// --provider sim: the reference system in virtual time. Exact replay (the same
// seed gives the same history, byte for byte), a complete run folder through
// the CLI with --replay, a seeded bug caught on a known seed, and the correct
// build valid over a handful of seeds with every simulated fault overlapping
// (the big sweeps are in bench/sim.ts).

import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSimTest } from '../../harness/run/run-sim.js';
import type { TestConfig } from '../../harness/run/run-test.js';
import { lines, undertowTest } from './cli-run.js';
import { simTestConfig } from './sim-config.js';

const store = mkdtempSync(join(tmpdir(), 'undertow-sim-'));

const simTest = (o: Partial<TestConfig>): TestConfig => simTestConfig(store, o);

describe('--provider sim', () => {
  it('replays a seed exactly: the same history byte for byte; another seed differs', async () => {
    const a = await runSimTest(simTest({ seed: 11 }), { quiet: true });
    const b = await runSimTest(simTest({ seed: 11 }), { quiet: true });
    const c = await runSimTest(simTest({ seed: 12 }), { quiet: true });
    expect(a.failure).toBeNull();
    expect(a.historySha256).toMatch(/^[0-9a-f]{64}$/);
    expect(b.historySha256).toBe(a.historySha256);
    expect(readFileSync(b.paths.history, 'utf8')).toBe(readFileSync(a.paths.history, 'utf8'));
    expect(c.historySha256).not.toBe(a.historySha256);
    // The faults really happened: kills, pauses, partitions and clock jumps, each acting on a node.
    const nemesis = lines(a.paths.nemesis).filter((e) => e.type === 'info');
    for (const f of ['kill', 'pause', 'partition'])
      expect(
        nemesis.some((e) => e.f === f && (e.value.node ?? e.value.grudge)),
        f,
      ).toBe(true);
    expect(nemesis.some((e) => e.f.startsWith('clock-') && e.f !== 'clock-reset')).toBe(true);
    expect(a.virtualSeconds).toBeGreaterThan(10);
  }, 60_000);

  it('writes a complete run folder through the CLI, exits with the verdict, and replays it from its folder', async () => {
    const r = await undertowTest(['--provider', 'sim', '--time-limit', '8', '--seed', '5', '--nemesis', 'kill,partition', '--nemesis-interval', '2']);
    expect(r.code, r.err).toBe(0);
    for (const f of ['test.json', 'history.jsonl', 'nemesis.jsonl', 'results.json', 'report.html']) expect(existsSync(join(r.run, f)), f).toBe(true);
    const test = JSON.parse(readFileSync(join(r.run, 'test.json'), 'utf8'));
    expect(test.provider).toBe('sim');
    expect(test.seed).toBe(5);
    expect(test.sim.historySha256).toMatch(/^[0-9a-f]{64}$/);
    const results = JSON.parse(readFileSync(join(r.run, 'results.json'), 'utf8'));
    expect(results.verdict).toBe('valid');
    const ops = lines(join(r.run, 'history.jsonl')).filter((e) => e.type === 'ok');
    expect(ops.length).toBeGreaterThan(200);
    expect(r.out).toContain(`--replay ${r.run}`);
    const again = await undertowTest(['--provider', 'sim', '--replay', r.run]);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('replay: the same history');
    // Seeds 5 and 6 on two worker threads: seed 5's history is the one above, byte for byte.
    const many = await undertowTest([
      '--provider',
      'sim',
      '--time-limit',
      '8',
      '--seed',
      '5',
      '--nemesis',
      'kill,partition',
      '--nemesis-interval',
      '2',
      '--test-count',
      '2',
      '--threads',
      '2',
    ]);
    expect(many.code, many.err).toBe(0);
    expect(many.out).toContain('2 seeds in');
    expect(many.out).toContain('on 2 threads: 2 valid, 0 invalid, 0 unknown, 0 failed');
    const dir5 = /seed 5: valid \([^)]*\) (\S+)/.exec(many.out)?.[1] ?? '';
    expect(JSON.parse(readFileSync(join(dir5, 'test.json'), 'utf8')).sim.historySha256).toBe(test.sim.historySha256);
  }, 60_000);

  it('refuses what it cannot simulate, in one line', async () => {
    // Every fault kind is simulated now; packet rate limits are not.
    const r = await undertowTest(['--provider', 'sim', '--nemesis', 'packet', '--packet', 'rate']);
    expect(r.code).toBe(254);
    expect(r.err).toContain('--provider sim does not simulate rate limits (--packet rate)');
    // The same from the worker threads of --test-count: one line, not an internal error.
    const many = await undertowTest(['--provider', 'sim', '--nemesis', 'packet', '--packet', 'rate', '--test-count', '2', '--threads', '2']);
    expect(many.code).toBe(254);
    expect(many.err.trim()).toBe('undertow: --provider sim does not simulate rate limits (--packet rate) (use --packet delay,loss,duplicate,reorder)');
  }, 30_000);

  it('catches read-without-lease on seed 1, and --replay of the failing run gives the same counterexample', async () => {
    // A primary cut off from every node while clients still reach it; a client timeout
    // (1 s) shorter than the config cache, so some clients still read from the deposed primary.
    const flags = ['--provider', 'sim', '--seed', '1', '--time-limit', '20', '--nemesis', 'partition', '--partitions', 'primary-alone'];
    const r = await undertowTest([
      ...flags,
      '--nemesis-interval',
      '8',
      '--reads',
      '0.9',
      '--groups',
      '1',
      '--op-timeout',
      '1',
      '--bug',
      'read-without-lease',
      '--shrink-budget',
      '0',
    ]);
    expect(r.code, r.err).toBe(1);
    const results = JSON.parse(readFileSync(join(r.run, 'results.json'), 'utf8'));
    expect(results.results.linearizable.verdict).toBe('invalid');
    const again = await undertowTest(['--provider', 'sim', '--replay', r.run]);
    expect(again.code, again.err).toBe(1);
    expect(again.out).toContain('replay: the same history');
    const replayed = JSON.parse(readFileSync(join(again.run, 'results.json'), 'utf8'));
    expect(replayed.results.linearizable.failures).toEqual(results.results.linearizable.failures);
  }, 60_000);

  it('shrinks an invalid run into RUN_DIR/shrunk: still invalid by the same checker, replayable, at least 5x fewer ops', async () => {
    const r = await undertowTest([
      ...['--provider', 'sim', '--seed', '1', '--time-limit', '20', '--nemesis', 'partition', '--partitions', 'primary-alone', '--nemesis-interval', '8'],
      ...['--reads', '0.9', '--groups', '1', '--op-timeout', '1', '--bug', 'read-without-lease', '--shrink-budget', '30'],
    ]);
    expect(r.code, r.err).toBe(1);
    const shrunk = join(r.run, 'shrunk');
    for (const f of ['test.json', 'history.jsonl', 'nemesis.jsonl', 'results.json', 'report.html']) expect(existsSync(join(shrunk, f)), f).toBe(true);
    // The run is invalid by its history and by the acked-write property (the deposed primary serves, without
    // its leases, at an old commit point): the shrunk run keeps at least one of the two.
    const results = JSON.parse(readFileSync(join(shrunk, 'results.json'), 'utf8'));
    expect(['linearizable', 'node-logs'].filter((n) => results.results[n]?.verdict === 'invalid')).not.toEqual([]);
    const count = (dir: string) => lines(join(dir, 'history.jsonl')).filter((e) => e.type === 'invoke' && e.process !== 'nemesis').length;
    expect(count(shrunk) * 5).toBeLessThanOrEqual(count(r.run));
    expect(r.out).toMatch(/shrunk in \d+ tries \(still invalid by linearizable, node-logs\)/);
    expect(r.out).toContain(`--replay ${shrunk}`);
    const again = await undertowTest(['--provider', 'sim', '--replay', shrunk]);
    expect(again.code, again.err).toBe(1);
    expect(again.out).toContain('replay: the same history');
  }, 90_000);

  it('catches commit-on-majority on a known seed: an acknowledged write lost, in the history', async () => {
    // The README's recipe (seed 13 of its sweep): kills, pauses and partitions overlapping every few seconds, one group.
    const o = await runSimTest(
      simTest({
        seed: 13,
        quiet: 5,
        timeLimit: 30,
        nemesis: ['kill', 'pause', 'partition'],
        nemesisInterval: 3,
        systemOptions: { groups: '1' },
        bugs: ['commit-on-majority'],
      }),
      { quiet: true },
    );
    expect(o.failure).toBeNull();
    expect(o.results?.verdict).toBe('invalid');
    expect(o.results?.results.linearizable.verdict).toBe('invalid');
  }, 60_000);

  it('catches vote-twice on a known seed: two CM leaders of one term stop each other, and the node-log check says so', async () => {
    // The README's recipe (seed 3 of its sweep): short election timeouts, the CM leader killed and paused every second.
    const recipe = {
      workload: 'version-register',
      timeLimit: 30,
      quiet: 5,
      nemesis: ['kill', 'pause'] as TestConfig['nemesis'],
      targets: ['leader'] as TestConfig['targets'],
      nemesisInterval: 1,
      nemesisOverlap: false,
      systemOptions: { 'cm-nodes': '5', 'election-ticks': '3' },
    };
    const o = await runSimTest(simTest({ ...recipe, seed: 3, bugs: ['vote-twice'] }), { quiet: true });
    expect(o.failure).toBeNull();
    expect(o.results?.verdict).toBe('invalid');
    const logs = o.results?.results['node-logs'] as { verdict: string; matches: { text: string }[] } | undefined;
    expect(logs?.verdict).toBe('invalid');
    expect(logs?.matches[0]?.text).toMatch(/election safety: n\d is leader of term \d+ and got append from n\d in the same term/);
    const correct = await runSimTest(simTest({ ...recipe, seed: 3 }), { quiet: true });
    expect(correct.results?.verdict).toBe('valid');
  }, 60_000);

  it('keeps the correct build valid over seeds with every simulated fault overlapping', async () => {
    for (let seed = 100; seed < 106; seed++) {
      const o = await runSimTest(simTest({ seed }), { quiet: true });
      expect(o.failure, `seed ${seed}`).toBeNull();
      expect(o.results?.verdict, `seed ${seed}: ${o.paths.dir}`).toBe('valid');
    }
  }, 60_000);
});
