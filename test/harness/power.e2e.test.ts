// `undertow test --nemesis power` on the local provider: the reference
// system's nodes run under the power shim (nemesis/power.ts), each power-off
// is recorded with what it dropped, and the correct build, which makes every
// acknowledged write durable (O_DSYNC appends, fsynced Raft log), stays valid.
// A build that does not sync (--opt fsync=false) loses its logs to a power
// failure of every node: the power-off ops say how many bytes were undone.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { faultsOf } from '../../results/report-data.js';
import { cli, expectCompleteRun, root, undertowTest } from './cli-run.js';

const short = ['--time-limit', '20', '--nemesis-interval', '3', '--quiet', '5', '--rate', '100', '--seed', '7'];

interface NemesisOp {
  type: string;
  f: string;
  value: Record<string, unknown> | null;
}

describe('undertow test --nemesis power on the local provider', () => {
  it('the correct build is valid under power failures of one node, each recorded with what it dropped, and healed', async () => {
    const r = await undertowTest(['--workload', 'register', '--nemesis', 'power', ...short]);
    const { results, history, nemesis } = expectCompleteRun(r, 'register');
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(r.code).toBe(0);
    const done = (nemesis as NemesisOp[]).filter((op) => op.type === 'info');
    const offs = done.filter((op) => op.f === 'power-off' && op.value?.node !== null);
    expect(offs.length).toBeGreaterThanOrEqual(2);
    for (const op of offs) expect(op.value).toMatchObject({ node: expect.any(String), files: expect.any(Array), undoneBytes: expect.any(Number) });
    expect(done.some((op) => op.f === 'power-on')).toBe(true);
    expect(done.at(-1)?.f).toBe('heal-all');
    // In the history too, and shaded in the report as intervals that end.
    expect(history.filter((op: NemesisOp) => op.f === 'power-off' && op.type === 'info').length).toBe(done.filter((op) => op.f === 'power-off').length);
    const { faults } = faultsOf(history, 0, Infinity);
    expect(faults.filter((f) => f.f === 'power-off').length).toBeGreaterThanOrEqual(2);
    expect(faults.every((f) => f.healed)).toBe(true);
    // Every node ran under the shim: its copy and a journal per process are in the node's power folder.
    for (const n of ['n1', 'd1']) {
      const files = readdirSync(join(r.run, 'nodes', n, 'power'));
      expect(files).toContain('unsynced.so');
    }
  }, 180_000);

  // A plain kill leaves the page cache alone: the same run with --nemesis kill --targets all is valid
  // (seed 3, 40 s: 911 acknowledged, none lost), and with power 914 of 917 were lost.
  it('catches a data plane that does not sync (--opt fsync=false) when every node loses power at once (--targets all): set loses acknowledged adds', async () => {
    const r = await undertowTest(['--workload', 'set', '--nemesis', 'power', '--targets', 'all', '--opt', 'fsync=false', ...short]);
    const { results, nemesis } = expectCompleteRun(r, 'set');
    const offs = (nemesis as NemesisOp[]).filter((op) => op.type === 'info' && op.f === 'power-off');
    expect(offs.length).toBeGreaterThanOrEqual(1);
    const first = offs[0].value as { nodes: string[]; dropped: Record<string, { files: string[]; undoneBytes: number }> };
    expect(first.nodes).toEqual(['n1', 'n2', 'n3', 'd1', 'd2', 'd3']);
    // The data servers wrote their log without syncing it: power took it.
    for (const d of ['d1', 'd2', 'd3']) {
      expect(first.dropped[d].files).toContain('replicas.log');
      expect(first.dropped[d].undoneBytes).toBeGreaterThan(0);
    }
    expect(results.results.set.verdict, r.err.slice(-2000)).toBe('invalid');
    expect(results.results.set.lost.length).toBeGreaterThan(0);
    expect(r.code).toBe(1);
  }, 180_000);

  it('Ctrl-C while every node is off (power-off all) stops, tears down, leaves no process, and still checks what was recorded', async () => {
    const r = await undertowTest(
      ['--workload', 'set', '--nemesis', 'power', '--targets', 'all', '--time-limit', '60', '--nemesis-interval', '2', '--seed', '3'],
      /\] ok [1-9]\d* .*faults: power-off/,
    );
    expect(r.err).toMatch(/interrupted/);
    const { test, history } = expectCompleteRun(r, 'set');
    expect(test.interrupted).toBe(true);
    expect(history.some((op: NemesisOp) => op.f === 'power-off')).toBe(true);
  }, 120_000);

  it('etcd refuses --nemesis power in one line with exit 254', () => {
    const r = spawnSync(process.execPath, [cli, 'test', '--system', 'etcd', '--nemesis', 'power'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(254);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/system etcd cannot take --nemesis power: etcd is a Go program/);
  });
});
