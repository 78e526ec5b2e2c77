// `undertow test --nemesis corrupt` on the local provider: a data server
// whose log a flipped bit damaged refuses to start on it (a fatal
// DiskCorruptError), which is the system doing right. node-logs notes the
// refusal on the damaged node instead of failing the run; before it did, the
// correct build was invalid on every seed tried (a false alarm).

import { describe, expect, it } from 'vitest';
import { expectCompleteRun, undertowTest } from './cli-run.js';

interface NemesisOp {
  type: string;
  f: string;
  value: Record<string, unknown> | null;
}

describe('undertow test --nemesis corrupt on the local provider', () => {
  it('the correct build is valid under bit flips aimed at primaries: each damaged node that refuses its data is a note, not a failure', async () => {
    const r = await undertowTest([
      '--nemesis',
      'corrupt',
      '--corruptions',
      'bitflip',
      '--targets',
      'primary',
      '--nemesis-interval',
      '2',
      '--time-limit',
      '12',
      '--seed',
      '1',
    ]);
    const { results, nemesis } = expectCompleteRun(r, 'register');
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(r.code).toBe(0);
    const damaged = (nemesis as NemesisOp[]).filter((op) => op.type === 'info' && op.f === 'corrupt' && typeof op.value?.file === 'string');
    expect(damaged.length).toBeGreaterThanOrEqual(1);
    // --corruptions bitflip: no cut tails.
    for (const op of damaged) expect(op.value).toMatchObject({ how: 'bitflip', flips: expect.any(Array) });
    const logs = results.results['node-logs'];
    expect(logs.verdict).toBe('valid');
    const refused = (logs.notes as string[]).filter((n) => / refused to start on the data the corrupt fault damaged /.test(n));
    // Seed 1 flips bits in logs with acknowledged appends after them, which recovery refuses (2 of 2 runs of this test).
    expect(refused.length, logs.notes.join('\n')).toBeGreaterThanOrEqual(1);
    for (const n of refused) expect(damaged.map((op) => op.value?.node)).toContain(n.split(' ')[0]);
  }, 120_000);
});
