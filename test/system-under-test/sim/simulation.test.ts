import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROFILES, type ProfileName } from '../../../system-under-test/sim/profiles.js';
import { runSimulation, type SimOptions, type SimResult } from '../../../system-under-test/sim/simulation.js';

const STORMY = PROFILES.stormy;

/** Run seeds 1, 2, ... until one violates a property; return that run (or null after `bound` seeds). */
function firstFailure(opts: Omit<SimOptions, 'seed'>, bound: number): SimResult | null {
  for (let seed = 1; seed <= bound; seed++) {
    const r = runSimulation({ ...opts, seed });
    if (r.violation !== null) return r;
  }
  return null;
}

describe('simulation: the correct build', () => {
  it('keeps every safety property over 200 random seeds (faults, crashes, partitions, membership changes)', () => {
    const totals = { reconfigureOk: 0, reads: 0, configChanges: 0, snapshotsInstalled: 0, crashes: 0, partitions: 0, elections: 0 };
    const changedVoters = new Set<string>();
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer(),
          profile: fc.constantFrom<ProfileName>('calm', 'stormy', 'crashy', 'readers', 'membership'),
          voters: fc.constantFrom(3, 5),
          maxEntriesPerAppend: fc.integer({ min: 1, max: 8 }),
        }),
        (p) => {
          const membership = p.profile === 'membership';
          const r = runSimulation({ seed: p.seed, ticks: 2000, voters: p.voters, maxEntriesPerAppend: p.maxEntriesPerAppend, ...PROFILES[p.profile] });
          expect(r.violation, r.violation?.message).toBeNull();
          // Not vacuous: the cluster elected leaders and served clients despite the faults.
          expect(r.stats.elections).toBeGreaterThan(0);
          expect(r.stats.reconfigureOk).toBeGreaterThan(0);
          for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.stats[k];
          if (membership) changedVoters.add(r.finalVoters.join(','));
        },
      ),
      { numRuns: 200 },
    );
    for (const [k, v] of Object.entries(totals)) expect(v, k).toBeGreaterThan(0);
    expect(changedVoters.size).toBeGreaterThan(3); // membership changes really moved the voter set around
  });

  it('without faults elects one leader and commits steadily', () => {
    const r = runSimulation({ seed: 7, ticks: 1500, loss: 0, duplicate: 0, crashRate: 0, partitionRate: 0 });
    expect(r.violation).toBeNull();
    expect(r.stats.elections).toBe(1);
    expect(r.stats.crashes).toBe(0);
    expect(r.stats.reconfigureOk).toBeGreaterThan(100);
    expect(r.stats.reads).toBeGreaterThan(50);
    expect(r.stats.maxCommit).toBeGreaterThan(300);
  });

  it('grows 3 voters to 5 and shrinks back while clients keep succeeding', () => {
    const runs = [1, 2, 3, 4, 5].map((seed) => runSimulation({ seed, ticks: 3000, spares: 2, membershipRate: 0.03, crashRate: 0, partitionRate: 0 }));
    for (const r of runs) {
      expect(r.violation, r.violation?.message).toBeNull();
      expect(r.stats.reconfigureOk).toBeGreaterThan(100);
      // Committed voter sets, in order: the cluster grew to 5 and later shrank again.
      const h = r.stats.voterHistory;
      expect(h.length).toBeGreaterThan(3);
      expect(h.every((n) => n >= 3 && n <= 5)).toBe(true);
      const five = h.indexOf(5);
      expect(five).toBeGreaterThanOrEqual(0);
      expect(h.slice(five + 1).some((n) => n < 5)).toBe(true);
    }
  });
});

describe('simulation: determinism', () => {
  it('the same seed replays exactly (same trace hash, same outcome); different seeds differ', () => {
    const opts = { ticks: 1500, spares: 1, membershipRate: 0.01, ...STORMY };
    const traces = new Set<string>();
    for (const seed of [11, 12, 13]) {
      const a = runSimulation({ ...opts, seed });
      const b = runSimulation({ ...opts, seed });
      expect(b).toEqual(a);
      traces.add(a.trace);
    }
    expect(traces.size).toBe(3);
  });

  it('a failing seed replays to the same violation at the same tick', () => {
    const opts = { ticks: 1500, bugs: new Set(['vote-twice']), ...STORMY };
    const first = firstFailure(opts, 30);
    expect(first).not.toBeNull();
    const again = runSimulation({ ...opts, seed: first!.seed });
    expect(again.violation).toEqual(first!.violation);
    expect(again.trace).toBe(first!.trace);
    expect(again.violation!.message).toContain(`seed=${first!.seed}`);
  });
});

describe('simulation: seeded bugs are caught', () => {
  it('vote-twice breaks election safety within 10 seeds', () => {
    const r = firstFailure({ ticks: 1500, bugs: new Set(['vote-twice']), ...STORMY }, 10);
    expect(r?.violation?.property).toBe('election-safety');
    expect(r!.violation!.message).toMatch(/two leaders in term \d+/);
  });

  it('cm-no-version-check breaks the CM version property within 3 seeds', () => {
    const r = firstFailure({ ticks: 1000, bugs: new Set(['cm-no-version-check']) }, 3);
    expect(r?.violation?.property).toBe('cm-version');
    expect(r!.violation!.message).toMatch(/group g\d+/);
  });

  it('the same seeds pass without the bugs', () => {
    for (let seed = 1; seed <= 10; seed++) {
      expect(runSimulation({ ticks: 1500, seed, ...STORMY }).violation).toBeNull();
      expect(runSimulation({ ticks: 1000, seed }).violation).toBeNull();
    }
  });
});
