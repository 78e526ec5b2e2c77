// The version-register workload: its generator against a scripted system
// that holds one version per key (the correct compare-and-set, and one that
// skips the compare, as the CM's cm-no-version-check bug does), judged by the
// workload's own checker; and the reference client's mapping of CM answers
// onto ok, fail and info.

import { describe, expect, it } from 'vitest';
import { cmOutcome, versionGroup } from '../../adapters/reference/client.js';
import { clients, simulate, stagger, timeLimit, type Invocation } from '../../harness/core/generator/index.js';
import type { SimulatedResponse } from '../../harness/core/generator/simulate.js';
import type { Random } from '../../harness/core/generator/random.js';
import { pairOps } from '../../history/pair.js';
import type { History } from '../../history/types.js';
import { learned, versionRegister } from '../../workloads/version-register.js';
import { workloadNamed } from '../../workloads/index.js';

const params = { keys: 3, opsPerKey: 40, rate: 200 };

/** A system holding a version per key; the effect happens at invocation, so it is linearizable when `compare` is on. */
function versions(compare: boolean) {
  const held = new Map<string, number>();
  return (op: Invocation, random: Random): SimulatedResponse => {
    const latencyNs = 1e6 + random.int(20e6);
    const key = String(op.key);
    const cur = held.get(key) ?? 0;
    if (op.f === 'read') return { type: 'ok', value: cur, latencyNs };
    const [from, to] = op.value as [number, number];
    if (compare && cur !== from) return { type: 'fail', error: 'version-mismatch', latencyNs };
    held.set(key, compare ? to : cur + 1);
    return { type: 'ok', value: [from, to], latencyNs };
  };
}

function run(compare: boolean, seed: number, seconds = 5): History {
  const w = versionRegister.make(params);
  return simulate(clients(timeLimit(seconds * 1e9, stagger(1e9 / params.rate, w.generator))), {
    concurrency: 6,
    seed,
    respond: versions(compare),
    maxInvocations: 5000,
  }).history;
}

const verdict = (h: History) => versionRegister.checkers({ workload: 'version-register', checkerBudget: 20 }).linearizable(h, pairOps(h)).valid;

describe('version-register workload', () => {
  it('is registered by name, and replays by seed', () => {
    expect(workloadNamed('version-register')).toBe(versionRegister);
    const inv = (h: History) => h.filter((op) => op.type === 'invoke').map(({ f, key, value, process }) => ({ f, key, value, process }));
    expect(inv(run(true, 4))).toEqual(inv(run(true, 4)));
    expect(inv(run(true, 5))).not.toEqual(inv(run(true, 4)));
  });

  it('reads and cas [v, v+1] only, aimed at the newest version seen: most cas win, workers compete for versions', () => {
    const h = run(true, 1);
    const invokes = h.filter((op) => op.type === 'invoke');
    expect(new Set(invokes.map((op) => op.f))).toEqual(new Set(['read', 'cas']));
    for (const op of invokes.filter((o) => o.f === 'cas')) {
      const [from, to] = op.value as [number, number];
      expect(to).toBe(from + 1);
      expect(from).toBeGreaterThanOrEqual(0);
    }
    const cas = pairOps(h).filter((o) => o.f === 'cas');
    const ok = cas.filter((o) => o.type === 'ok').length;
    const fail = cas.filter((o) => o.type === 'fail').length;
    // Keys move well past their creation, and competing cas for one version fail.
    expect(ok).toBeGreaterThan(100);
    expect(fail).toBeGreaterThan(10);
    expect(Math.max(...h.filter((o) => o.f === 'read' && o.type === 'ok').map((o) => o.value as number))).toBeGreaterThan(5);
  });

  it('a correct compare-and-set is linearizable on every seed; one that skips the compare is not', () => {
    for (const seed of [1, 2, 3]) {
      expect(verdict(run(true, seed)), `correct, seed ${seed}`).toBe(true);
      expect(verdict(run(false, seed)), `no compare, seed ${seed}`).toBe(false);
    }
  });

  it('learns a version only from ok reads and ok cas', () => {
    const base = { index: 1, process: 0, time: 0, key: 'v1' };
    expect(learned({ ...base, type: 'ok', f: 'read', value: 3 })).toEqual({ key: 'v1', version: 3 });
    expect(learned({ ...base, type: 'ok', f: 'cas', value: [3, 4] })).toEqual({ key: 'v1', version: 4 });
    expect(learned({ ...base, type: 'fail', f: 'cas', value: [3, 4] })).toBeUndefined();
    expect(learned({ ...base, type: 'info', f: 'cas', value: [3, 4] })).toBeUndefined();
    expect(learned({ ...base, type: 'invoke', f: 'read', value: null })).toBeUndefined();
  });
});

describe('reference client for version-register: CM answers as outcomes', () => {
  it('ok when committed; fail only when the CM refused it or it was never proposed; info otherwise', () => {
    const v = [1, 2];
    expect(cmOutcome({ ok: true }, v)).toEqual({ type: 'ok', value: v });
    for (const error of ['version-mismatch', 'no-such-group', 'group-exists', 'not-leader', 'no-leader', 'leader-not-ready', 'unreachable'])
      expect(cmOutcome({ ok: false, error, unknown: false }, v).type, error).toBe('fail');
    expect(cmOutcome({ ok: false, error: 'timeout', unknown: true }, v).type).toBe('info');
    // A definite-looking error marked unknown, and an error we do not know, are never guessed to be fails.
    expect(cmOutcome({ ok: false, error: 'not-leader', unknown: true }, v).type).toBe('info');
    expect(cmOutcome({ ok: false, error: 'something-new' }, v).type).toBe('info');
  });

  it('keys live in CM groups of their own', () => {
    expect(versionGroup('v7')).toBe('vr-v7');
  });
});
