// --provider sim checks the acked-write property (system-under-test/sim/acked-write.ts) in the whole
// system: while a replica serves as its group's primary, every update the group acknowledged to a
// client is committed on it. no-reconciliation breaks it (a new primary that had to remove its
// unreachable secondaries serves alone before its commit point catches up) though no client-visible
// history shows it; the run is invalid by the node-logs anomaly, and the correct build on the same
// seed is valid. The check only records: the world runs the same with it.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSimTest } from '../../harness/run/run-sim.js';
import type { TestConfig } from '../../harness/run/run-test.js';
import { simTestConfig } from './sim-config.js';

const store = mkdtempSync(join(tmpdir(), 'undertow-sim-acked-'));

/** Seed 8 of the README's recipe (CLI: seed 8 caught at 3.1 virtual s, g1: d3 serving with commit 37 while sn 39 was acknowledged). */
const SEED = 8;

// The README's recipe: kills and pauses of random nodes and primaries and partitions, overlapping, a
// fault every second or so, slow disks (a new primary's configuration record takes up to 20 ms).
const recipe = (o: Partial<TestConfig>): TestConfig =>
  simTestConfig(store, {
    name: 'sim-acked',
    nemesis: ['kill', 'pause', 'partition'],
    nemesisOverlap: true,
    targets: ['random', 'primary'],
    nemesisInterval: 1,
    concurrency: 30,
    timeLimit: 10,
    systemOptions: { 'sim-disk-ms': '20' },
    ...o,
  });

type NodeLogs = { verdict: string; anomalies: { kind: string; what: string }[]; matchCount: number; notes: string[] };

describe('--provider sim: the acked-write property', () => {
  it('catches no-reconciliation (invalid by an acked-write anomaly, no node stopped); the correct build on the seed is valid', async () => {
    const bug = await runSimTest(recipe({ seed: SEED, bugs: ['no-reconciliation'] }), { quiet: true });
    expect(bug.failure).toBeNull();
    expect(bug.results?.verdict, bug.paths.dir).toBe('invalid');
    const logs = bug.results?.results['node-logs'] as NodeLogs | undefined;
    expect(logs?.verdict).toBe('invalid');
    expect(logs?.matchCount).toBe(0);
    expect(logs?.anomalies[0]?.kind).toBe('acked-write');
    expect(logs?.anomalies[0]?.what).toMatch(/g\d: d\d serves with commit \d+ but update sn \d+ \(.+\) was acknowledged/);

    const correct = await runSimTest(recipe({ seed: SEED }), { quiet: true });
    expect(correct.failure).toBeNull();
    expect(correct.results?.verdict, correct.paths.dir).toBe('valid');
    const ok = correct.results?.results['node-logs'] as NodeLogs | undefined;
    expect(ok?.anomalies).toEqual([]);
    expect(ok?.notes.some((n) => n.includes('acked-write') && n.includes('none broken'))).toBe(true);
  }, 120_000);
});
