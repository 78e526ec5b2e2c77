// Fault coverage and node-log checks end to end: the built CLI runs the
// reference system on the local provider; results.json, the console and the
// report say what the faults achieved, and the node-log checks catch two
// primaries at once that no client read saw, without a false alarm on the
// correct build.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, expectCompleteRun, root, undertowTest } from './cli-run.js';

describe('fault coverage on the local provider', () => {
  it('kill of primaries forces failovers: results.json counts primary changes, the console and the report say so, the node logs are clean', async () => {
    const r = await undertowTest(['--nemesis', 'kill', '--targets', 'primary', '--time-limit', '20', '--nemesis-interval', '3', '--seed', '3']);
    const { results } = expectCompleteRun(r, 'register');
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(results.results['node-logs'].verdict).toBe('valid');
    expect(results.results['node-logs'].notes.join(' ')).toMatch(/no two primaries at once/);
    const c = results.coverage;
    expect(c.samples).toBeGreaterThan(50);
    expect(c.primaryChangesTotal).toBeGreaterThanOrEqual(1);
    expect(c.faults.kills).toBeGreaterThanOrEqual(1);
    expect(c.faults.restarts).toBe(c.faults.kills);
    expect(c.achievedNothing).toBe(false);
    expect(r.out).toMatch(/^coverage: \d+ primary changes? \(g\d /m);
    expect(r.out).toContain(c.line);
    expect(readFileSync(join(r.run, 'report.html'), 'utf8')).toContain('Fault coverage');
    // `undertow analyze` recomputes the same coverage and node-log verdict from the run folder (coverage.json).
    const again = spawnSync(process.execPath, [cli, 'analyze', r.run], { cwd: root, encoding: 'utf8' });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain(c.line);
    const reanalyzed = JSON.parse(readFileSync(join(r.run, 'results.json'), 'utf8'));
    expect(reanalyzed.coverage).toEqual(c);
    expect(reanalyzed.results['node-logs']).toEqual(results.results['node-logs']);
  }, 120_000);

  it('a run without faults says its faults achieved nothing', async () => {
    const r = await undertowTest(['--nemesis', 'none', '--time-limit', '5', '--quiet', '1', '--seed', '3']);
    const { results } = expectCompleteRun(r, 'register');
    expect(results.verdict).toBe('valid');
    expect(results.coverage.achievedNothing).toBe(true);
    expect(r.out).toMatch(/^coverage: the faults changed no primary and no leader \(no faults ran\)$/m);
  }, 120_000);

  // Under --bug read-without-lease an isolated primary goes on serving reads
  // after a secondary replaced it: the node-log check finds both primaries
  // serving at once from the role lines, whether or not a client read saw it.
  it('catches two primaries at once under --bug read-without-lease with the primary cut off: node-logs is invalid', async () => {
    const r = await undertowTest([
      '--nemesis',
      'partition',
      '--partitions',
      'primary-alone',
      '--bug',
      'read-without-lease',
      '--time-limit',
      '20',
      '--nemesis-interval',
      '4',
      '--seed',
      '4',
    ]);
    const { results } = expectCompleteRun(r, 'register');
    const logs = results.results['node-logs'];
    expect(logs.verdict).toBe('invalid');
    expect(results.verdict).toBe('invalid');
    expect(logs.anomalies.length).toBeGreaterThanOrEqual(1);
    expect(logs.anomalies[0].kind).toBe('two-primaries');
    expect(logs.anomalies[0].what).toMatch(/still served reads as primary of version \d+ .* after d\d had served as primary of version \d+/);
    expect(r.code).toBe(1);
  }, 120_000);
});
