import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PACIFICA_BUGS } from '../../../system-under-test/pacifica/types.js';
import {
  PACIFICA_PROFILES,
  runPacificaSimulation,
  type PacificaProfileName,
  type PacificaProperty,
  type PacificaSimOptions,
  type PacificaSimResult,
} from '../../../system-under-test/sim/pacifica-sim.js';
import { checkHistory } from './history.js';

const TICKS = 3000;

/** Seeds 1, 2, ... until a run violates a property; that run, or null after `bound` seeds. */
function firstFailure(opts: Omit<PacificaSimOptions, 'seed'>, bound: number): PacificaSimResult | null {
  for (let seed = 1; seed <= bound; seed++) {
    const run = runPacificaSimulation({ ...opts, seed });
    if (run.violation !== null) return run;
  }
  return null;
}

describe('pacifica simulation: the correct build', () => {
  it('keeps every property and a linearizable history over 120 random seeds and fault profiles', () => {
    const totals = {
      writesOk: 0,
      readsOk: 0,
      fail: 0,
      info: 0,
      promotions: 0,
      removals: 0,
      additions: 0,
      crashes: 0,
      partitions: 0,
      clockJumps: 0,
      lostOutputs: 0,
      checkpoints: 0,
    };
    const profiles = new Set<string>();
    const undecided = new Set<string>();
    fc.assert(
      fc.property(fc.record({ seed: fc.integer(), profile: fc.constantFrom<PacificaProfileName>('calm', 'crashy', 'clocks', 'split', 'lossy') }), (p) => {
        const r = runPacificaSimulation({ seed: p.seed, ticks: TICKS, ...PACIFICA_PROFILES[p.profile] });
        expect(r.violation, r.violation?.message).toBeNull();
        // Never invalid; `unknown` (the checker's budget ran out: no verdict, not a violation) is
        // counted below and must stay rare. Simulation seed -8 (calm) is one: the kv model cannot
        // decide its list history within the checker's memory budget.
        const lin = checkHistory(r.history, 10_000);
        expect(lin.registers.verdict, JSON.stringify(lin.registers.failures[0] ?? lin.registers.unknownKeys)).not.toBe('invalid');
        expect(lin.lists.verdict, JSON.stringify(lin.lists.failures[0] ?? lin.lists.unknownKeys)).not.toBe('invalid');
        if (lin.registers.verdict === 'unknown' || lin.lists.verdict === 'unknown') undecided.add(`${p.seed} ${p.profile}`);
        // Not vacuous: clients were served in every run.
        expect(r.stats.writesOk).toBeGreaterThan(0);
        expect(r.stats.readsOk).toBeGreaterThan(0);
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.stats[k];
        profiles.add(p.profile);
      }),
      { numRuns: 120 },
    );
    expect(undecided.size, [...undecided].join('; ')).toBeLessThanOrEqual(3);
    // The faults really happened and the protocol really went through its paths.
    for (const [k, v] of Object.entries(totals)) expect(v, k).toBeGreaterThan(0);
    expect(profiles.size).toBe(5);
  });

  it('returns to full replication after the faults heal, and every replica converges', () => {
    let full = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const r = runPacificaSimulation({ seed, ticks: TICKS });
      expect(r.violation, r.violation?.message).toBeNull();
      expect(r.stats.crashes + r.stats.partitions).toBeGreaterThan(0);
      if (r.finalConfig.secondaries.length === 2) {
        full++;
        // Members' commit points are close to each other, one of them serves.
        const live = r.finalReplicas.filter((x) => x !== null);
        expect(live.filter((x) => x.serving).length).toBeLessThanOrEqual(1);
        expect(live.every((x) => x.version === r.finalConfig.version)).toBe(true);
      }
    }
    // 300 quiet ticks: 30 of 30 seeds of the calm profile are fully replicated again.
    expect(full).toBe(30);
  });

  it('without faults one primary serves all along and commits steadily', () => {
    const r = runPacificaSimulation({ seed: 5, ticks: 2000, loss: 0, duplicate: 0, crashRate: 0, partitionRate: 0 });
    expect(r.violation).toBeNull();
    expect(r.stats.reconfigures).toBe(0);
    expect(r.stats.info).toBe(0);
    expect(r.stats.maxCommit).toBeGreaterThan(400);
    expect(r.finalReplicas.map((x) => x?.role)).toEqual(['primary', 'secondary', 'secondary']);
    expect(checkHistory(r.history).valid).toBe(true);
  });
});

describe('pacifica simulation: determinism', () => {
  it('the same seed replays exactly (same trace, same history); different seeds differ', () => {
    const traces = new Set<string>();
    for (const seed of [21, 22, 23]) {
      const a = runPacificaSimulation({ seed, ticks: 1500, ...PACIFICA_PROFILES.crashy });
      const b = runPacificaSimulation({ seed, ticks: 1500, ...PACIFICA_PROFILES.crashy });
      expect(b).toEqual(a);
      traces.add(a.trace);
    }
    expect(traces.size).toBe(3);
  });
});

// Each seeded bug: the profile that exposes it, the property expected to catch
// it, and a bound on the seeds searched (see system-under-test/BUGS.md).
const BUG_CASES: { bug: (typeof PACIFICA_BUGS)[number]; profile: PacificaProfileName; properties: PacificaProperty[]; bound: number }[] = [
  { bug: 'read-without-lease', profile: 'calm', properties: ['one-serving'], bound: 5 },
  { bug: 'short-grace', profile: 'calm', properties: ['one-serving'], bound: 5 },
  { bug: 'commit-on-majority', profile: 'lossy', properties: ['acked-write', 'replica-invariant'], bound: 5 },
  { bug: 'no-reconciliation', profile: 'calm', properties: ['acked-write'], bound: 10 },
  { bug: 'wall-clock-lease', profile: 'clocks', properties: ['one-serving', 'acked-write'], bound: 20 },
  { bug: 'ack-before-fsync', profile: 'crashy', properties: ['acked-write', 'replica-invariant'], bound: 10 },
];

describe('pacifica simulation: seeded bugs are caught', () => {
  it('every bug in PACIFICA_BUGS has a case here', () => {
    expect(BUG_CASES.map((c) => c.bug).sort()).toEqual([...PACIFICA_BUGS].sort());
  });

  for (const c of BUG_CASES) {
    it(`${c.bug} breaks ${c.properties.join(' or ')} within ${c.bound} seeds (${c.profile}), and the seed replays exactly`, () => {
      const opts = { ticks: TICKS, ...PACIFICA_PROFILES[c.profile], bugs: new Set([c.bug]) };
      const found = firstFailure(opts, c.bound);
      expect(found, `no violation in seeds 1..${c.bound}`).not.toBeNull();
      const v = found!.violation!;
      expect(c.properties).toContain(v.property);
      expect(v.message).toContain(`seed=${v.seed}, tick=${v.tick}`);
      // Replay: same violation at the same tick, same trace.
      const again = runPacificaSimulation({ ...opts, seed: v.seed });
      expect(again.violation).toEqual(v);
      expect(again.trace).toBe(found!.trace);
      // The correct build survives the same seed and options.
      const correct = runPacificaSimulation({ ...opts, bugs: new Set(), seed: v.seed });
      expect(correct.violation, correct.violation?.message).toBeNull();
    });
  }

  // Without the simulator's own checks, the recorded history alone shows some
  // defects to the project's linearizability checker (runs that stop on a
  // protocol invariant first are skipped: they prove nothing about the history).
  for (const [bug, profile, bound] of [
    ['read-without-lease', 'split', 5],
    ['commit-on-majority', 'clocks', 10],
  ] as const) {
    it(`${bug}: the history alone is not linearizable on some seed within ${bound} (${profile})`, () => {
      let found: number | null = null;
      for (let seed = 1; seed <= bound && found === null; seed++) {
        const r = runPacificaSimulation({ seed, ticks: TICKS, ...PACIFICA_PROFILES[profile], bugs: new Set([bug]), checkProperties: false });
        if (r.violation !== null) continue;
        const lin = checkHistory(r.history);
        if (lin.valid) continue;
        expect([...lin.registers.failures, ...lin.lists.failures].length).toBeGreaterThan(0);
        found = seed;
      }
      expect(found, `every history of seeds 1..${bound} was linearizable`).not.toBeNull();
    });
  }
});
