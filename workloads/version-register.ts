// Versioned configurations, as a configuration service holds them: each key
// has a version (0 while the key does not exist) that only a compare-and-set
// moves on, from v to v + 1. Clients read versions and race to move them; the
// generator aims each cas at the newest version it has seen, so that several
// workers compete for the same version (of two such requests exactly one may
// win) and some aim at a stale one (it must fail). Checked as a cas-register
// per key whose initial value is 0, after Jepsen's independent keys.

import { linearizable } from '../checkers/index.js';
import { makeRegister } from '../checkers/linearizability/models/register.js';
import { fillIn, pending } from '../harness/core/generator/basic.js';
import type { Context, Generator } from '../harness/core/generator/index.js';
import type { WorkloadDefinition, WorkloadParams } from '../harness/core/workload.js';
import type { Op } from '../history/types.js';
import { rollingKey, windowNsFor, withStatsAndPerf } from './generators.js';

/** The model: a cas-register per key starting at version 0 (absent). */
export const versionRegisterModel = makeRegister('cas-register', true, { init: 0 });

/** The share of cas ops aimed one version behind the newest seen (they must fail unless that version is still current). */
export const STALE_CAS = 0.1;

type Known = ReadonlyMap<string, number>;

/** What the generator learned of a key's version from a completion, or undefined. */
export function learned(event: Op): { key: string; version: number } | undefined {
  if (event.type !== 'ok' || event.key === undefined) return undefined;
  if (event.f === 'read' && typeof event.value === 'number') return { key: String(event.key), version: event.value };
  if (event.f === 'cas' && Array.isArray(event.value) && typeof event.value[1] === 'number') return { key: String(event.key), version: event.value[1] };
  return undefined;
}

/**
 * The main generator: reads (a `readFraction` share) and cas [v, v+1] with v
 * the newest version seen of the key (sometimes one behind). `known` keeps at
 * most `limit` keys, the most recently learned.
 */
export function versionOps(p: { keys: number; windowNs: number; readFraction: number }, known: Known = new Map(), limit = 4 * p.keys): Generator {
  const self: Generator = {
    op(ctx: Context) {
      const key = rollingKey('v', p.keys, p.windowNs, ctx);
      let spec;
      if (ctx.random.float() < p.readFraction) spec = { f: 'read', key };
      else {
        const newest = known.get(key) ?? 0;
        const from = newest > 0 && ctx.random.float() < STALE_CAS ? newest - 1 : newest;
        spec = { f: 'cas', key, value: [from, from + 1] };
      }
      const op = fillIn(spec, ctx);
      return op ? { kind: 'op', op, next: self } : pending(self);
    },
    update(_ctx, event) {
      const l = learned(event);
      if (l === undefined || (known.get(l.key) ?? -1) >= l.version) return self;
      const next = new Map(known);
      next.delete(l.key);
      next.set(l.key, l.version);
      for (const k of next.keys()) {
        if (next.size <= limit) break;
        next.delete(k);
      }
      return versionOps(p, next, limit);
    },
  };
  return self;
}

export const versionRegister: WorkloadDefinition = {
  name: 'version-register',
  summary: 'read versions, cas [v, v+1] over rolling keys (configurations); linearizability per key (cas-register from 0)',
  make(p: WorkloadParams) {
    const readFraction = p.readFraction ?? 1 / 3;
    return {
      name: 'version-register',
      options: { keys: p.keys, opsPerKey: p.opsPerKey, readFraction },
      generator: versionOps({ keys: p.keys, windowNs: windowNsFor(p), readFraction }),
      final: null,
    };
  },
  checkers: (test) => withStatsAndPerf({ linearizable: linearizable(versionRegisterModel, { budgetMs: (test.checkerBudget ?? 60) * 1000 }) }),
};
