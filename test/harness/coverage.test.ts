// Fault coverage: counting leader, primary and membership changes over the
// view's samples, faults from the nemesis ops, the console line; and the
// harness's node-log checks (never-patterns with node and line).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countChanges, coverageOf, distinctSamples, faultCounts, roleChanges, type ViewSample } from '../../harness/core/coverage.js';
import type { LogChecks, NodeLog } from '../../harness/core/system.js';
import { checkNodeLogs, corruptedNodes } from '../../harness/run/coverage.js';
import { withCoverage } from '../../harness/run/analysis.js';
import { counterexampleLines } from '../../harness/campaign/run.js';
import type { History, Op } from '../../history/types.js';

const g = (group: string, primary: string, ...secondaries: string[]) => ({ group, primary, secondaries });
/** A view sample at `s` seconds. */
const sample = (s: number, leader: string | null, groups: ViewSample['groups']): ViewSample => ({ t: s * 1e9, leader, groups });

const nemesis = (f: string, value: Op['value'], index = 0): Op => ({ index, type: 'info', f, value, process: 'nemesis', time: index });

describe('coverage: counting over view samples', () => {
  it('counts leader and primary changes between consecutive answers, skipping unknowns', () => {
    const samples = [
      sample(0, 'n1', [g('g0', 'd1', 'd2', 'd3'), g('g1', 'd2', 'd3', 'd1')]),
      sample(1, null, null), // the view did not answer: no change
      sample(2, 'n1', [g('g0', 'd1', 'd2', 'd3'), g('g1', 'd2', 'd3', 'd1')]),
      sample(3, 'n2', [g('g0', 'd2', 'd3'), g('g1', 'd2', 'd3', 'd1')]), // g0: d1 out, d2 primary
      sample(4, 'n2', [g('g0', 'd2', 'd3', 'd1'), g('g1', 'd2', 'd3', 'd1')]), // d1 back
      sample(5, 'n2', [g('g0', '', 'd3', 'd1'), g('g1', 'd3', 'd1')]), // g0: no primary known; g1: d2 out
      sample(6, 'n1', [g('g0', 'd2', 'd3', 'd1'), g('g1', 'd3', 'd1', 'd2')]), // g0 back to d2 (no change), g1 d2 back
    ];
    const c = roleChanges(samples);
    expect(c.leaderChanges).toBe(2);
    expect(c.leaders).toEqual(['n1', 'n2']);
    expect(c.primaryChanges).toEqual({ g0: 1, g1: 1 });
    expect(c.primaryChangesTotal).toBe(2);
    // g0: d1 out and back, d2 out (no primary, '' is no member) and back; g1: d2 out and back.
    expect(c.membersRemoved).toBe(3);
    expect(c.membersReadded).toBe(3);
    // Each change at the sample that first showed it, in seconds since the start.
    expect(c.changes).toEqual([
      { t: 3, what: 'leader n1 -> n2' },
      { t: 3, what: 'g0: primary d1 -> d2' },
      { t: 3, what: 'g0: d1 removed' },
      { t: 4, what: 'g0: d1 re-added' },
      { t: 5, what: 'g0: d2 removed' },
      { t: 5, what: 'g1: primary d2 -> d3' },
      { t: 5, what: 'g1: d2 removed' },
      { t: 6, what: 'leader n2 -> n1' },
      { t: 6, what: 'g0: d2 re-added' },
      { t: 6, what: 'g1: d2 re-added' },
    ]);
  });

  it('property: changes are the number of adjacent distinct values once unknowns are dropped, and dropping repeated samples changes nothing', () => {
    const node = fc.constantFrom('d1', 'd2', 'd3');
    const maybe = fc.oneof(node, fc.constant(null), fc.constant(''));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.option(fc.constantFrom('n1', 'n2', 'n3')), fc.option(fc.array(maybe, { minLength: 2, maxLength: 2 }))), { maxLength: 60 }),
        (raw) => {
          const samples = raw.map(([leader, ps], t) =>
            sample(t, leader, ps === null ? null : ps.map((p, i) => g(`g${i}`, p ?? '', ...['d1', 'd2', 'd3'].filter((d) => d !== p)))),
          );
          const known = (xs: (string | null)[]) => xs.filter((x): x is string => x !== null && x !== '');
          const adjacent = (xs: string[]) => xs.filter((x, i) => i > 0 && x !== xs[i - 1]).length;
          const c = roleChanges(samples);
          expect(c.leaderChanges).toBe(adjacent(known(samples.map((s) => s.leader))));
          for (const i of [0, 1]) {
            const ps = known(samples.map((s) => s.groups?.[i]?.primary ?? null));
            expect(c.primaryChanges[`g${i}`] ?? 0).toBe(adjacent(ps));
          }
          expect(countChanges(samples.map((s) => s.leader))).toBe(c.leaderChanges);
          expect(roleChanges(distinctSamples(samples))).toEqual(c);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('faults come from the nemesis completions: a fault that found no node does not count; restarts by start and heal-all', () => {
    const history: History = [
      { index: 0, type: 'invoke', f: 'kill', value: 'primary', process: 'nemesis', time: 0 },
      nemesis('kill', { target: 'primary', node: 'd3' }, 1),
      nemesis('start', { nodes: ['d3'] }, 2),
      nemesis('kill', { target: 'leader', node: null, note: 'no leader to kill' }, 3),
      nemesis('pause', { target: 'random', node: 'd1' }, 4),
      nemesis('partition', { shape: 'halves', about: 'random halves', grudge: {} }, 5),
      nemesis('kill', { target: 'random', node: 'd2' }, 6),
      nemesis('heal-all', { partition: true, clocks: [], resumed: ['d1'], started: ['d2'] }, 7),
      { index: 8, type: 'ok', f: 'read', value: 1, process: 0, time: 8 },
    ];
    expect(faultCounts(history)).toEqual({ kills: 2, restarts: 2, pauses: 1, partitions: 1, clock: 0, member: 0 });
  });

  it('the console line names the changes, or says the faults achieved nothing', () => {
    const faults: History = [nemesis('kill', { target: 'primary', node: 'd1' }, 0), nemesis('start', { nodes: ['d1'] }, 1)];
    const steady = [sample(0, 'n1', [g('g0', 'd1', 'd2')]), sample(1, 'n1', [g('g0', 'd1', 'd2')])];
    const nothing = coverageOf({ samples: steady, history: faults });
    expect(nothing.achievedNothing).toBe(true);
    expect(nothing.line).toBe('coverage: the faults changed no primary and no leader (faults: 1 kill, 1 restart)');

    const moved = [sample(0, 'n1', [g('g0', 'd1', 'd2'), g('g1', 'd2', 'd1')]), sample(1, 'n2', [g('g0', 'd2'), g('g1', 'd1', 'd2')])];
    const c = coverageOf({ samples: moved, history: faults, system: { leaseExpiries: 2 } });
    expect(c.achievedNothing).toBe(false);
    expect(c.line).toBe(
      'coverage: 2 primary changes (g0 1, g1 1), 1 leader change, 1 replica removed, 0 re-added; faults: 1 kill, 1 restart; system: lease expiries 2',
    );
    expect(coverageOf({ samples: [], history: [] }).line).toBe("coverage: unknown, the system's view never answered (no faults ran)");
  });
});

describe('node-log checks', () => {
  const logs: NodeLog[] = [
    {
      node: 'd1',
      role: 'data',
      lines: ['{"level":30,"msg":"started"}', '{"level":60,"event":"fatal","err":"pacifica: commit beyond log end","msg":"stopping"}'],
    },
    { node: 'n1', role: 'cm', lines: ['ok', 'file:///x.js:3', 'Node.js v20.19.0'] },
  ];
  const checks: LogChecks = {
    never: [
      { pattern: /"level":60[,}]/, what: 'a fatal stop' },
      { pattern: /^Node\.js v\d+/, what: 'an uncaught exception', roles: ['cm'] },
      { pattern: /started/, what: 'only in cm logs', roles: ['cm'] },
    ],
    analyze: () => ({ counts: { leaseExpiries: 3 }, notes: ['analyzed'] }),
  };

  it('a never-pattern found makes the check invalid, with the node, the line number and the line', () => {
    const { result, counts } = checkNodeLogs(logs, checks, { provider: 'local', faults: [] });
    expect(result.verdict).toBe('invalid');
    expect(result.matchCount).toBe(2);
    expect(result.matches).toEqual([
      { node: 'd1', line: 2, text: logs[0].lines[1], what: 'a fatal stop' },
      { node: 'n1', line: 3, text: 'Node.js v20.19.0', what: 'an uncaught exception' },
    ]);
    expect(counts).toEqual({ leaseExpiries: 3 });
    expect(result.notes).toContain('analyzed');
  });

  it('a node refusing the data a corrupt fault damaged is a note, not a failure; the same refusal elsewhere still fails', () => {
    const refusal =
      '{"level":60,"event":"fatal","kind":"DiskCorruptError","err":"replicas.log: bad record at byte 5 followed by 3 acknowledged append(s)","msg":"stopping"}';
    const withRefusal: NodeLog[] = [
      { node: 'd1', role: 'data', lines: ['{"level":30,"msg":"started"}', refusal, refusal] },
      { node: 'd2', role: 'data', lines: ['{"level":30,"msg":"started"}'] },
    ];
    const c: LogChecks = { ...checks, refusesCorruption: /"kind":"DiskCorruptError"/ };
    const history = [
      { index: 0, time: 1, type: 'invoke', process: 'nemesis', f: 'corrupt', value: { target: 'primary', how: 'bitflip' } },
      { index: 1, time: 2, type: 'info', process: 'nemesis', f: 'corrupt', value: { target: 'primary', node: 'd1', how: 'bitflip', file: 'replicas.log' } },
      // A corrupt fault that found nothing to damage on d2 excuses nothing there.
      { index: 2, time: 3, type: 'info', process: 'nemesis', f: 'corrupt', value: { target: 'random', node: 'd2', how: 'none', note: 'no file with data' } },
    ] as Op[];
    expect(corruptedNodes(history)).toEqual(['d1']);
    const excused = checkNodeLogs(withRefusal, c, { provider: 'local', faults: ['corrupt'], corrupted: corruptedNodes(history) }).result;
    expect(excused.verdict).toBe('valid');
    expect(excused.matchCount).toBe(0);
    expect(excused.notes.find((n) => n.startsWith('d1 refused to start on the data the corrupt fault damaged (2 times; first at line 2'))).toBeDefined();
    // Not damaged by the fault (d2), or no refusal pattern declared: a fatal stop fails the run.
    const elsewhere: NodeLog[] = [{ node: 'd2', role: 'data', lines: [refusal] }];
    expect(checkNodeLogs(elsewhere, c, { provider: 'local', faults: ['corrupt'], corrupted: ['d1'] }).result.verdict).toBe('invalid');
    expect(checkNodeLogs(withRefusal, checks, { provider: 'local', faults: ['corrupt'], corrupted: ['d1'] }).result.verdict).toBe('invalid');
    // Another fatal stop on the damaged node (an invariant, not the refusal) still fails it.
    const other: NodeLog[] = [{ node: 'd1', role: 'data', lines: [logs[0].lines[1]] }];
    expect(checkNodeLogs(other, c, { provider: 'local', faults: ['corrupt'], corrupted: ['d1'] }).result.matchCount).toBe(1);
  });

  it('clean logs are valid; the node-logs verdict joins the run verdict and the coverage joins results.json', () => {
    const clean: NodeLog[] = [{ node: 'd1', role: 'data', lines: ['{"level":30,"msg":"started"}'] }];
    const logsResult = checkNodeLogs(clean, checks, { provider: 'local', faults: [] });
    expect(logsResult.result.verdict).toBe('valid');
    const base = {
      checker: 'compose' as const,
      verdict: 'valid' as const,
      valid: true as const,
      results: { stats: { checker: 'stats', verdict: 'valid' as const, valid: true as const } },
    };
    const stored = { taken: 2, unanswered: 0, samples: [sample(0, 'n1', [g('g0', 'd1')]), sample(1, 'n1', [g('g0', 'd2')])], logs: logsResult };
    const merged = withCoverage(base, stored, []);
    expect(merged.verdict).toBe('valid');
    expect(merged.coverage?.primaryChanges).toEqual({ g0: 1 });
    expect(merged.coverage?.system).toEqual({ leaseExpiries: 3 });
    const bad = withCoverage(base, { ...stored, logs: checkNodeLogs(logs, checks, { provider: 'local', faults: [] }) }, []);
    expect(bad.verdict).toBe('invalid');
    expect(bad.valid).toBe(false);
    expect(bad.results['node-logs'].verdict).toBe('invalid');
    // A run without stored coverage (an old run folder) is left as it was.
    expect(withCoverage(base, null, [])).toBe(base);
    // A campaign cell says why in one line per finding.
    expect(counterexampleLines(bad)).toEqual([
      'node-logs: invalid',
      `d1.log line 2: a fatal stop: ${logs[0].lines[1]}`,
      'n1.log line 3: an uncaught exception: Node.js v20.19.0',
    ]);
  });
});
