// Placement (pacifica/placement.ts) and the bank operations of the state machine (pacifica/kv.ts).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyRead, applyUpdate } from '../../../system-under-test/pacifica/kv.js';
import { fnv1a32, groupOf, hashTag, initialLayout } from '../../../system-under-test/pacifica/placement.js';
import type { KvValue } from '../../../system-under-test/pacifica/types.js';

describe('placement', () => {
  it('FNV-1a 32 matches the published test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('keys with the same {tag} share a group; every key has a group in range', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.string({ minLength: 1 }).filter((t) => !t.includes('}')),
        fc.integer({ min: 1, max: 64 }),
        (a, b, tag, n) => {
          expect(groupOf(`${a.replace(/[{}]/g, '')}{${tag}}${b}`, n)).toBe(groupOf(`{${tag}}`, n));
          const g = Number(groupOf(a, n).slice(1));
          expect(g >= 0 && g < n).toBe(true);
        },
      ),
    );
    expect(hashTag('x{}y')).toBe('x{}y'); // an empty tag hashes the whole key
    expect(hashTag('{user1}.balance')).toBe('user1');
  });

  it('round-robin layout over the sorted servers: primaries spread evenly, R distinct members', () => {
    const l = initialLayout(['d3', 'd1', 'd2'], 6, 3);
    expect(l.g0).toEqual({ primary: 'd1', secondaries: ['d2', 'd3'] });
    expect(l.g1).toEqual({ primary: 'd2', secondaries: ['d3', 'd1'] });
    expect(l.g2).toEqual({ primary: 'd3', secondaries: ['d1', 'd2'] });
    expect(l.g3).toEqual(l.g0);
    expect(initialLayout(['a', 'b', 'c', 'd'], 2, 2)).toEqual({ g0: { primary: 'a', secondaries: ['b'] }, g1: { primary: 'b', secondaries: ['c'] } });
    expect(() => initialLayout(['a'], 1, 2)).toThrow(/replication 2/);
  });
});

describe('bank operations', () => {
  it('transfer moves money, refuses overdrafts and non-numbers, and conserves the total', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 30 })), { maxLength: 60 }),
        (moves) => {
          const kv: Record<string, KvValue> = { a0: 50, a1: 50 };
          for (const [f, t, amount] of moves) {
            const before = kv[`a${f}`] ?? 0;
            const r = applyUpdate(kv, { f: 'transfer', from: `a${f}`, to: `a${t}`, amount });
            expect(r.ok).toBe((before as number) >= amount);
            if (!r.ok) expect(r.error).toBe('insufficient');
          }
          const balances = Object.values(kv) as number[];
          expect(balances.every((b) => b >= 0)).toBe(true);
          expect(balances.reduce((x, y) => x + y, 0)).toBe(100);
        },
      ),
    );
    expect(applyUpdate({ s: 'text' }, { f: 'transfer', from: 's', to: 't', amount: 1 })).toEqual({ ok: false, error: 'not-a-number' });
  });

  it('read-many answers every key, absent ones as null', () => {
    expect(applyRead({ a: 1, b: [2] }, { f: 'read-many', keys: ['a', 'b', 'c'] })).toEqual({ a: 1, b: [2], c: null });
  });
});
