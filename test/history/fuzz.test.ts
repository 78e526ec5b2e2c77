// No input makes a reader fail in any other way than an InputError with a
// one-line message pointing inside the input. And whatever a reader accepts,
// its writer writes back to the same history.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatEdn, parseEdn } from '../../history/edn.js';
import { formatJsonl, parseJsonl } from '../../history/jsonl.js';
import { parseHistory } from '../../history/read.js';
import { returnsOrInputError } from './gen.js';

const RUNS = 2000;

/** Every reader on the same text: both formats, with and without independent tuples, and the sniffer. */
function allReaders(text: string): void {
  for (const independent of [false, true]) {
    if (returnsOrInputError(text, () => parseEdn(text, 'f.edn', { independent }))) {
      const { ops } = parseEdn(text, 'f.edn', { independent });
      expect(parseEdn(formatEdn(ops)).ops).toEqual(ops);
    }
    if (returnsOrInputError(text, () => parseJsonl(text, 'f.jsonl', { independent }))) {
      const { ops } = parseJsonl(text, 'f.jsonl', { independent });
      // JSON turns -0 into 0, so compare as JSON.
      expect(JSON.stringify(parseJsonl(formatJsonl(ops)).ops)).toBe(JSON.stringify(ops));
    }
  }
  returnsOrInputError(text, () => parseHistory(text, 'f.log'));
}

const realLines = [
  ...readFileSync('/work/shared/histories/porcupine-etcd/etcd_000.edn', 'utf8').split('\n').slice(0, 40),
  ...readFileSync('/work/shared/histories/porcupine-kv/c01-ok.edn', 'utf8').split('\n').slice(0, 40),
];
const realJsonLines = formatJsonl(parseEdn(realLines.join('\n')).ops).split('\n');

/** A few consecutive lines of a real history with characters dropped, inserted or replaced. */
function mutated(lines: string[]) {
  const edit = fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('drop', 'insert', 'replace'),
    char: fc.oneof(fc.constantFrom(...'{}[]()":;,#\\ \n-.0123456789eE_/nil'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
  });
  return fc.tuple(fc.nat(lines.length - 1), fc.integer({ min: 1, max: 6 }), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([start, count, edits]) => {
    let text = lines.slice(start, start + count).join('\n');
    for (const e of edits) {
      const i = e.at % (text.length + 1);
      text =
        e.kind === 'drop'
          ? text.slice(0, i) + text.slice(i + 1)
          : e.kind === 'insert'
            ? text.slice(0, i) + e.char + text.slice(i)
            : text.slice(0, i) + e.char + text.slice(i + 1);
    }
    return text;
  });
}

const ednTokens = [
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  '#{',
  '#_',
  '##Inf',
  '##NaN',
  '##x',
  '#inst',
  '#',
  '\\',
  '\\a',
  '\\newline',
  '\\u00',
  '"',
  '"s"',
  '"\\u12"',
  '"\\q"',
  ':type',
  ':invoke',
  ':ok',
  ':fail',
  ':info',
  ':f',
  ':read',
  ':cas',
  ':value',
  ':process',
  ':nemesis',
  ':time',
  ':index',
  ':key',
  ':error',
  ':timed-out',
  ':',
  '::a',
  'nil',
  'true',
  'false',
  'sym',
  'a/b',
  '0',
  '1',
  '-1',
  '+2',
  '1.5',
  '1e3',
  '1e999',
  '012',
  '1/2',
  '1/0',
  '7N',
  '1.5M',
  '99999999999999999999',
  ' ',
  ',',
  '\n',
  '\r\n',
  ';c\n',
  '\u2028',
  '[1 2]',
  '{:a 1}',
  '-',
  '.',
  '__proto__',
  ':__proto__',
];
const ednish = fc.array(fc.constantFrom(...ednTokens), { maxLength: 40 }).map((ts) => ts.join(' '));
const ednishTight = fc.array(fc.constantFrom(...ednTokens), { maxLength: 40 }).map((ts) => ts.join(''));

/** JSON records that look like ops, each field missing or of a random type. */
const field = (good: fc.Arbitrary<unknown>) => fc.option(fc.oneof(good, good, fc.jsonValue({ maxDepth: 2 })), { nil: undefined });
const opish = fc.record({
  index: field(fc.nat(20)),
  time: field(fc.nat(1000)),
  type: field(fc.constantFrom('invoke', 'ok', 'fail', 'info')),
  process: field(fc.oneof(fc.nat(3), fc.constant('nemesis'))),
  f: field(fc.constantFrom('read', 'write')),
  value: field(fc.jsonValue({ maxDepth: 2 })),
  key: field(fc.oneof(fc.string(), fc.integer())),
  error: field(fc.constant('timed-out')),
});

describe('the readers fail only with InputError', () => {
  const check = (arb: fc.Arbitrary<string>, numRuns = RUNS) =>
    fc.assert(
      fc.property(arb, (text) => {
        allReaders(text);
      }),
      { numRuns },
    );

  it('arbitrary strings', () => check(fc.string({ unit: 'binary', maxLength: 200 })));
  it('arbitrary lines', () => check(fc.array(fc.string({ maxLength: 60 }), { maxLength: 10 }).map((ls) => ls.join('\n'))));
  it('mutated lines of real EDN histories', () => check(mutated(realLines), 3000));
  it('mutated lines of real JSON-lines histories', () => check(mutated(realJsonLines), 3000));
  it('random JSON values, one per line', () =>
    check(fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 6 }).map((vs) => vs.map((v) => JSON.stringify(v)).join('\n'))));
  it('op-like JSON records', () => check(fc.array(opish, { maxLength: 6 }).map((rs) => rs.map((r) => JSON.stringify(r)).join('\n'))));
  it('EDN-ish tokens', () => check(fc.oneof(ednish, ednishTight), 3000));
  it('deep nesting', () =>
    check(
      fc
        .tuple(fc.constantFrom('[', '{', '(', '#{', '#_', '#a ', '{"a":', '[[', '{:v '), fc.integer({ min: 400, max: 2000 }))
        .map(([open, n]) => open.repeat(n)),
      50,
    ));
});
