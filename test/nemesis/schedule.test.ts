// A seed pins the faults: the fault schedule draws from a stream of its own,
// so the kinds, targets and shapes of a run's faults are the same whatever
// the clients did meanwhile (how many ops the timing let them ask for).

import { describe, expect, it } from 'vitest';
import { clientsAndNemesis, fromFn, simulate, stagger, timeLimit } from '../../harness/core/generator/index.js';
import { faultSchedule, holdFor, RESTART_AT_ONCE_MS } from '../../nemesis/schedule.js';

/** The nemesis invocations (f and value) of a simulated run at `rate` client ops per second. */
function faults(rate: number, seed: number | undefined, responseMs: number): unknown[] {
  const clientOps = stagger(
    1e9 / rate,
    fromFn((ctx) => ({ f: 'read', key: `k${ctx.random.int(5)}` })),
  );
  const schedule = faultSchedule({ kinds: ['kill', 'pause', 'partition', 'clock'], nodes: ['n1', 'n2', 'n3'], quietMs: 200, holdMs: 200, seed });
  const respond = () => ({ type: 'ok' as const, latencyNs: responseMs * 1e6 });
  return simulate(clientsAndNemesis(timeLimit(10e9, clientOps), timeLimit(10e9, schedule)), { concurrency: 5, seed: 7, respond, maxInvocations: 20_000 })
    .history.filter((op) => op.process === 'nemesis' && op.type === 'invoke')
    .map(({ f, value }) => ({ f, value }));
}

describe('the fault schedule', () => {
  it('with a seed: the same faults in the same order, whatever the clients did meanwhile', () => {
    // Timing still varies, so the time limit may cut one run a fault earlier: compare the common prefix.
    const same = (x: unknown[], y: unknown[]) => {
      const n = Math.min(x.length, y.length);
      expect(n).toBeGreaterThanOrEqual(20);
      expect(x.slice(0, n)).toEqual(y.slice(0, n));
    };
    const a = faults(100, 42, 1);
    same(faults(700, 42, 3), a);
    same(faults(20, 42, 0.2), a);
    expect(faults(100, 43, 1).slice(0, 20)).not.toEqual(a.slice(0, 20));
  });

  it("without one it draws from the test generator's shared stream, which the client ops move (why the seed is needed)", () => {
    expect(faults(700, undefined, 3).slice(0, 20)).not.toEqual(faults(100, undefined, 1).slice(0, 20));
  });
});

describe('holds', () => {
  it('corrupt faults draw their kind from --corruptions: both by default, only the ones given otherwise', () => {
    const hows = (corruptions?: ('bitflip' | 'truncate')[]) => {
      const schedule = faultSchedule({ kinds: ['corrupt'], nodes: ['n1', 'n2', 'n3'], quietMs: 100, holdMs: 100, seed: 5, corruptions });
      const respond = () => ({ type: 'ok' as const, latencyNs: 1e6 });
      return new Set(
        simulate(
          clientsAndNemesis(
            timeLimit(
              10e9,
              stagger(
                1e8,
                fromFn(() => ({ f: 'read' })),
              ),
            ),
            timeLimit(10e9, schedule),
          ),
          { concurrency: 2, seed: 7, respond },
        )
          .history.filter((op) => op.process === 'nemesis' && op.type === 'invoke' && op.f === 'corrupt')
          .map((op) => (op.value as { how: string }).how),
      );
    };
    expect(hows()).toEqual(new Set(['bitflip', 'truncate']));
    expect(hows(['bitflip'])).toEqual(new Set(['bitflip']));
  });

  it('a quarter of kills restart at once (at most 200 ms down); other kills and every other kind are held around the mean', () => {
    expect(holdFor('kill', 5000, 0)).toBe(0);
    expect(holdFor('kill', 5000, 0.2499)).toBeLessThan(RESTART_AT_ONCE_MS);
    expect(holdFor('kill', 5000, 0.25)).toBe(5000 * 0.625);
    expect(holdFor('pause', 5000, 0.1)).toBe(5000 * 0.4);
    expect(holdFor('partition', 5000, 0.999)).toBeCloseTo(5000 * 1.7485);
  });

  it('in a schedule, some kills are restarted within 200 ms and others held for seconds', () => {
    const schedule = faultSchedule({ kinds: ['kill'], nodes: ['n1', 'n2', 'n3'], quietMs: 1000, holdMs: 4000, seed: 5 });
    const respond = () => ({ type: 'ok' as const, latencyNs: 1e6 });
    const ops = simulate(
      clientsAndNemesis(
        timeLimit(
          600e9,
          stagger(
            1e9,
            fromFn(() => ({ f: 'read', key: 'k' })),
          ),
        ),
        timeLimit(600e9, schedule),
      ),
      {
        concurrency: 2,
        seed: 1,
        respond,
        maxInvocations: 20_000,
      },
    ).history.filter((op) => op.process === 'nemesis' && op.type === 'invoke');
    const downMs: number[] = [];
    for (let i = 0; i + 1 < ops.length; i += 2) {
      expect([ops[i].f, ops[i + 1].f]).toEqual(['kill', 'start']);
      downMs.push((ops[i + 1].time - ops[i].time) / 1e6);
    }
    expect(downMs.length).toBeGreaterThan(40);
    const atOnce = downMs.filter((ms) => ms <= RESTART_AT_ONCE_MS + 2).length;
    expect(atOnce / downMs.length).toBeGreaterThan(0.1);
    expect(atOnce / downMs.length).toBeLessThan(0.4);
    expect(downMs.filter((ms) => ms >= 2500).length / downMs.length).toBeGreaterThan(0.6);
  });
});
