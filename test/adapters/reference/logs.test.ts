// The reference system's log checks: serving instants read from the data
// servers' role and stats lines, two primaries of one group flagged only when
// certain, lease expiries counted, and the never-patterns on what its nodes
// really print.

import { describe, expect, it } from 'vitest';
import type { NodeLog } from '../../../harness/core/system.js';
import { checkNodeLogs } from '../../../harness/run/coverage.js';
import { analyzeReferenceLogs, primaryOverlaps, REFERENCE_LOG_CHECKS, servingObservations, type ServingObservation } from '../../../adapters/reference/logs.js';

const role = (group: string, r: string, version: number, serving: boolean, at: [number, number], servedUntil?: { version: number; at: [number, number] }) =>
  JSON.stringify({
    level: 30,
    time: 1,
    node: 'x',
    service: 'data',
    event: 'role',
    group,
    role: r,
    version,
    serving,
    commit: 0,
    at,
    ...(servedUntil ? { servedUntil } : {}),
  });

const obs = (node: string, version: number, lo: number, hi = lo + 0.002, group = 'g0'): ServingObservation => ({ node, group, version, lo, hi, line: 1 });

describe('reference log checks: two primaries at once', () => {
  it('flags an older primary found serving after a newer one served', () => {
    const a = primaryOverlaps([obs('d1', 1, 100), obs('d1', 1, 900), obs('d2', 2, 800), obs('d2', 2, 1000)]);
    expect(a).toHaveLength(1);
    expect(a[0].kind).toBe('two-primaries');
    expect(a[0].what).toMatch(/^g0: d1 still served reads as primary of version 1 0\.100 s after d2 had served as primary of version 2/);
    // With the test's time 0 on the monotonic clock, each side says when in the test it was.
    expect(primaryOverlaps([obs('d1', 1, 900), obs('d2', 2, 800)], 50)[0].what).toBe(
      'g0: d1 still served reads as primary of version 1 (0.850 s into the test) 0.100 s after d2 had served as primary of version 2 (0.750 s into the test): two primaries at once',
    );
  });

  it('does not flag primaries one after the other, however close (the old one stopped before the new one began)', () => {
    expect(primaryOverlaps([obs('d1', 1, 100), obs('d1', 1, 799.99, 800), obs('d2', 2, 800.001), obs('d2', 2, 2000)])).toEqual([]);
    // Spans that touch or intersect are not certain: not flagged.
    expect(primaryOverlaps([obs('d1', 1, 800, 800.01), obs('d2', 2, 799.995, 800.005)])).toEqual([]);
    // The same replica under an older and a newer version is no overlap.
    expect(primaryOverlaps([obs('d1', 1, 900), obs('d1', 2, 100)])).toEqual([]);
    // Other groups are other groups.
    expect(primaryOverlaps([obs('d1', 1, 900, 901, 'g0'), obs('d2', 2, 100, 101, 'g1')])).toEqual([]);
  });

  it('flags two replicas serving under one configuration version', () => {
    const a = primaryOverlaps([obs('d1', 3, 100), obs('d2', 3, 5000)]);
    expect(a.map((x) => x.what)).toEqual(['g0: d1 and d2 both served reads as primary of configuration version 3']);
  });

  it('reads serving instants from role lines (at, servedUntil) and stats lines, counts lease expiries, and finds the overlap with lines', () => {
    const d1: NodeLog = {
      node: 'd1',
      role: 'data',
      lines: [
        role('g0', 'primary', 1, true, [100, 100.01]),
        // Lease ran out under the same version: a lease expiry, last served at 500.
        role('g0', 'primary', 1, false, [520, 520.01], { version: 1, at: [500, 500.01] }),
        role('g0', 'primary', 1, true, [600, 600.01]),
        JSON.stringify({ level: 30, event: 'stats', serving: { g0: { version: 1, at: [1500, 1500.01] } } }),
      ],
    };
    const d2: NodeLog = { node: 'd2', role: 'data', lines: ['not json', role('g0', 'primary', 2, true, [1200, 1200.01])] };
    const cm: NodeLog = { node: 'n1', role: 'cm', lines: [role('g0', 'primary', 9, true, [0, 1])] };
    const { observations, leaseExpiries } = servingObservations([d1, d2, cm]);
    expect(observations.map((o) => [o.node, o.version, o.lo, o.line])).toEqual([
      ['d1', 1, 100, 1],
      ['d1', 1, 500, 2],
      ['d1', 1, 600, 3],
      ['d1', 1, 1500, 4],
      ['d2', 2, 1200, 2],
    ]);
    expect(leaseExpiries).toBe(1);
    const f = analyzeReferenceLogs([d1, d2, cm], { provider: 'local', faults: ['partition'] });
    expect(f.counts).toEqual({ leaseExpiries: 1 });
    expect(f.anomalies?.[0].at).toEqual([
      { node: 'd1', line: 4 },
      { node: 'd2', line: 2 },
    ]);
    // Nodes that may not share a clock: not checked, and says so.
    const remote = analyzeReferenceLogs([d1, d2], { provider: 'cloud', faults: [] });
    expect(remote.anomalies).toEqual([]);
    expect(remote.notes?.[0]).toMatch(/skipped/);
  });
});

describe('reference log checks: lines that must never appear', () => {
  it('matches what the nodes print on a fatal stop and an uncaught exception, not their ordinary lines', () => {
    const d1: NodeLog = {
      node: 'd1',
      role: 'data',
      lines: [
        '{"level":30,"time":1,"node":"d1","service":"data","event":"start","msg":"data server started"}',
        '{"level":40,"time":2,"node":"d1","service":"data","event":"bad-message","msg":"dropping a malformed or unexpected message"}',
        '{"level":60,"time":3,"node":"d1","service":"data","event":"fatal","err":"pacifica d1: commit 7 beyond durable 5","msg":"stopping"}',
      ],
    };
    const n1: NodeLog = {
      node: 'n1',
      role: 'cm',
      lines: [
        'file:///app/dist/system-under-test/raft/node.js:120',
        '        throw new InvariantError(m);',
        'InvariantError: raft: two leaders in term 3',
        'Node.js v20.19.0',
      ],
    };
    const { result } = checkNodeLogs([d1, n1], REFERENCE_LOG_CHECKS, { provider: 'local', faults: [] });
    expect(result.verdict).toBe('invalid');
    expect(result.matches.map((m) => [m.node, m.line, m.what])).toEqual([
      ['d1', 3, 'a fatal stop (a violated protocol invariant or a failed disk write)'],
      ['n1', 2, 'a failed assertion'],
      ['n1', 3, 'a failed assertion'],
      ['n1', 4, 'the process died of an uncaught exception'],
    ]);
  });
});
