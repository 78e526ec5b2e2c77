// Issue 5's round trip: what the harness records and checks in memory gets the
// same verdict from `undertow check` reading the stored history.jsonl.

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkLinearizable, modelNamed } from '../../checkers/linearizability/index.js';
import { clients, limit } from '../../harness/core/generator/index.js';
import { HISTORY_FILE, Recorder } from '../../harness/core/recorder.js';
import { runWorkers } from '../../harness/run/workers.js';
import { pairOps } from '../../history/pair.js';
import { registerOps, registerSystem } from './register-system.js';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'harness', 'cli.js');
const exitOf = { valid: 0, invalid: 1, unknown: 2 } as const;

describe('record, then check', () => {
  it('the stored history gets the in-memory verdict from undertow check', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.nat(),
          ops: fc.integer({ min: 20, max: 120 }),
          concurrency: fc.integer({ min: 1, max: 6 }),
          keys: fc.integer({ min: 1, max: 3 }),
          // Stale reads from a lagging copy make some runs invalid.
          lagMs: fc.constantFrom(0, 0, 8),
          stall: fc.constantFrom(0, 0.05),
        }),
        async ({ seed, ops, concurrency, keys, lagMs, stall }) => {
          const dir = mkdtempSync(join(tmpdir(), 'undertow-roundtrip-'));
          const recorder = new Recorder({ dir });
          const system = registerSystem(seed, { stall, dropBefore: 0.02, dropAfter: 0.02 }, lagMs);
          await runWorkers({
            generator: clients(limit(ops, registerOps(keys))),
            concurrency,
            seed,
            nodes: ['n1'],
            newClient: system.newClient,
            recorder,
            opTimeoutMs: 15,
          });
          recorder.close();
          const inMemory = checkLinearizable(modelNamed('cas-register'), pairOps([...recorder.history]), { budgetMs: 10_000 });
          seen.add(inMemory.verdict);

          const r = spawnSync(process.execPath, [cli, 'check', '--model', 'cas-register', '--json', '--budget', '10', join(dir, HISTORY_FILE)], {
            encoding: 'utf8',
          });
          expect(r.stderr).toBe('');
          expect(r.status).toBe(exitOf[inMemory.verdict]);
          const fromFile = JSON.parse(r.stdout);
          expect(fromFile.verdict).toBe(inMemory.verdict);
          expect(fromFile.ops).toBe(inMemory.ops);
          expect(fromFile.failures.map((f: { key: unknown }) => f.key)).toEqual(inMemory.failures.map((f) => f.key));
        },
      ),
      { numRuns: 16 },
    );
    // Both verdicts must have come up, or the round trip proved little.
    expect(seen).toEqual(new Set(['valid', 'invalid']));
  });
});
