// `undertow test --provider docker --nemesis power`: each node's container
// loads the host-built power shim from its bind-mounted power folder, and the
// harness rolls the journals back from the host, mapping the container's
// /data to the node's data folder. The correct build is valid; a data plane
// that does not sync loses acknowledged adds when every node loses power.
// Needs a Docker engine (the test setup starts one as root); skips only when
// none can be had, and says why.

import { describe, expect, it } from 'vitest';
import { expectCompleteRun, undertowTest } from '../harness/cli-run.js';
import { dockerLeftovers, testEngine } from './engine.js';

const engine = await testEngine();
const skip = engine.missing !== null;

interface NemesisOp {
  type: string;
  f: string;
  value: Record<string, unknown> | null;
}

const common = [
  '--provider',
  'docker',
  '--workload',
  'set',
  '--nemesis',
  'power',
  '--time-limit',
  '20',
  '--nemesis-interval',
  '3',
  '--quiet',
  '5',
  '--rate',
  '100',
  '--seed',
  '7',
];

describe.skipIf(skip)(`undertow test --provider docker --nemesis power${skip ? ` (skipped: ${engine.missing})` : ''}`, () => {
  it('the correct build is valid under power failures, recorded with what they dropped', async () => {
    const r = await undertowTest(common);
    const { results, nemesis, test } = expectCompleteRun(r, 'set');
    expect(test.provider).toBe('docker');
    expect(dockerLeftovers(r.run)).toEqual([]);
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(r.code).toBe(0);
    const offs = (nemesis as NemesisOp[]).filter((op) => op.type === 'info' && op.f === 'power-off' && op.value?.node !== null);
    expect(offs.length).toBeGreaterThanOrEqual(2);
    for (const op of offs) expect(op.value).toMatchObject({ node: expect.any(String), files: expect.any(Array), undoneBytes: expect.any(Number) });
    expect((nemesis as NemesisOp[]).at(-1)?.f).toBe('heal-all');
  }, 180_000);

  it('catches a data plane that does not sync (--opt fsync=false) when every node loses power at once', async () => {
    const r = await undertowTest([...common, '--targets', 'all', '--opt', 'fsync=false']);
    const { results, nemesis } = expectCompleteRun(r, 'set');
    expect(dockerLeftovers(r.run)).toEqual([]);
    const first = (nemesis as NemesisOp[]).find((op) => op.type === 'info' && op.f === 'power-off')?.value as {
      dropped: Record<string, { files: string[]; undoneBytes: number }>;
    };
    // The journals name /data/replicas.log inside the container: rolled back in the host's folder.
    for (const d of ['d1', 'd2', 'd3']) {
      expect(first.dropped[d].files).toContain('replicas.log');
      expect(first.dropped[d].undoneBytes).toBeGreaterThan(0);
    }
    expect(results.results.set.verdict, r.err.slice(-2000)).toBe('invalid');
    expect(r.code).toBe(1);
  }, 180_000);
});
