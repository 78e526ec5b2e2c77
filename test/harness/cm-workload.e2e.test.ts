// The configuration manager's seeded bugs end to end: the version-register
// workload (each key a configuration in the CM that no data server serves;
// read its version, cas [v, v+1] as a reconfigure that expects v) on a real
// local cluster, with the CM leader killed, paused and partitioned. The
// recipe is system-under-test/BUGS.md's.

import { describe, expect, it } from 'vitest';
import { expectCompleteRun, undertowTest } from './cli-run.js';

const recipe = ['--workload', 'version-register', '--nemesis', 'kill,partition,pause', '--targets', 'leader', '--quiet', '3'];

describe('version-register: the CM as compare-and-set registers', () => {
  it('is valid on the correct build under kill, partition and pause of the CM leader, with cas won and lost', async () => {
    const r = await undertowTest([...recipe, '--time-limit', '18', '--nemesis-interval', '2', '--seed', '2']);
    const { results, history, nemesis } = expectCompleteRun(r, 'version-register');
    expect(results.verdict, r.err.slice(-2000)).toBe('valid');
    expect(r.code).toBe(0);
    const cas = history.filter((op: { f: string; type: string }) => op.f === 'cas' && op.type !== 'invoke');
    expect(cas.filter((op: { type: string }) => op.type === 'ok').length).toBeGreaterThan(100);
    // Workers compete for versions: the CM refuses the losers (a definite fail).
    expect(cas.some((op: { type: string; error?: string }) => op.type === 'fail' && op.error === 'version-mismatch')).toBe(true);
    expect(nemesis.filter((op: { type: string }) => op.type === 'info').length).toBeGreaterThanOrEqual(4);
  }, 120_000);

  it('catches --bug cm-no-version-check: two reconfigures expecting one version both win, not linearizable', async () => {
    const r = await undertowTest([...recipe, '--bug', 'cm-no-version-check', '--time-limit', '20', '--seed', '1']);
    const { results } = expectCompleteRun(r, 'version-register');
    expect(r.out).toMatch(/^invalid: .*\(workload version-register\)/);
    expect(results.verdict).toBe('invalid');
    expect(r.code).toBe(1);
  }, 120_000);

  it('a system that cannot serve it refuses in one line, exit 254', async () => {
    const r = await undertowTest(['--system', 'etcd', '--workload', 'version-register']);
    expect(r.code).toBe(254);
    expect(r.err.trim().split('\n')).toEqual(['undertow: system etcd cannot run workload version-register (its workloads: register, set, append, bank)']);
  }, 30_000);
});
