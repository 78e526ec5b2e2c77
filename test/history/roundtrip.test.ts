// Writing a history and reading it back gives the same history, in both formats.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatEdn, parseEdn } from '../../history/edn.js';
import { formatJsonl, formatOp, parseJsonl } from '../../history/jsonl.js';
import { pairOps } from '../../history/pair.js';
import { historyArb } from './gen.js';

describe('round trips on generated histories', () => {
  it('the generator makes well-formed histories', () => {
    fc.assert(
      fc.property(historyArb(), (h) => {
        pairOps(h);
      }),
      { numRuns: 300 },
    );
  });

  it('JSON lines: parseJsonl(formatJsonl(h)) = h, one line per op', () => {
    fc.assert(
      fc.property(historyArb(), (h) => {
        const text = formatJsonl(h);
        const { ops, lines } = parseJsonl(text);
        expect(ops).toEqual(h);
        expect(lines).toEqual(h.map((_, i) => i + 1));
        for (const op of h) expect(formatOp(op)).not.toMatch(/[\n\r\u2028\u2029]/);
      }),
      { numRuns: 1000 },
    );
  });

  it('EDN: parseEdn(formatEdn(h)) = h, one line per op, also with -0, NaN and infinities', () => {
    fc.assert(
      fc.property(historyArb({ special: true }), (h) => {
        const { ops, lines } = parseEdn(formatEdn(h));
        expect(ops).toEqual(h);
        expect(lines).toEqual(h.map((_, i) => i + 1));
      }),
      { numRuns: 1000 },
    );
  });

  it('EDN to JSON lines and back agree', () => {
    fc.assert(
      fc.property(historyArb(), (h) => {
        expect(parseEdn(formatEdn(parseJsonl(formatJsonl(h)).ops)).ops).toEqual(h);
      }),
      { numRuns: 300 },
    );
  });
});
