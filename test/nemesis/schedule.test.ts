// A seed pins the faults: the fault schedule draws from a stream of its own,
// so the kinds, targets and shapes of a run's faults are the same whatever
// the clients did meanwhile (how many ops the timing let them ask for).

import { describe, expect, it } from 'vitest';
import { clientsAndNemesis, fromFn, simulate, stagger, timeLimit } from '../../harness/core/generator/index.js';
import { faultSchedule } from '../../nemesis/schedule.js';

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
