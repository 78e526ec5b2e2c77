import { describe, expect, it } from 'vitest';
import { formatJsonl, formatOp, parseJsonl } from '../../history/jsonl.js';
import type { History } from '../../history/types.js';
import { expectInputError } from './gen.js';

const line = (o: object) => JSON.stringify(o);
const invoke = { index: 0, time: 0, type: 'invoke', process: 0, f: 'write', value: 3 };
const ok = { index: 1, time: 5, type: 'ok', process: 0, f: 'write', value: 3 };

describe('parseJsonl', () => {
  it('reads ops and the line of each, skipping blank lines', () => {
    const text = `\n${line(invoke)}\n   \n${line(ok)}\n`;
    const { ops, lines } = parseJsonl(text, 'h.jsonl');
    expect(ops).toEqual([invoke, ok]);
    expect(lines).toEqual([2, 4]);
  });

  it('accepts CRLF line ends and a byte-order mark', () => {
    const { ops, lines } = parseJsonl(`\ufeff${line(invoke)}\r\n${line(ok)}\r\n`);
    expect(ops).toEqual([invoke, ok]);
    expect(lines).toEqual([1, 2]);
  });

  it('keeps key, error and the nemesis; ignores unknown fields', () => {
    const text = [
      line({ index: 0, time: 1, type: 'invoke', process: 2, f: 'cas', key: 'k', value: [1, 2], extra: true }),
      line({ index: 1, time: 2, type: 'info', process: 'nemesis', f: 'start', value: { n1: ['n2'] } }),
      line({ index: 2, time: 3, type: 'info', process: 2, f: 'cas', key: 'k', value: [1, 2], error: 'timed-out' }),
    ].join('\n');
    const { ops } = parseJsonl(text);
    expect(ops[0]).toEqual({ index: 0, time: 1, type: 'invoke', process: 2, f: 'cas', key: 'k', value: [1, 2] });
    expect(ops[1].process).toBe('nemesis');
    expect(ops[2].error).toBe('timed-out');
  });

  it('defaults value to null, index to the position, and time to the index when no op has one', () => {
    const { ops } = parseJsonl(`{"type":"invoke","process":0,"f":"read"}\n{"type":"ok","process":0,"f":"read","value":1}`);
    expect(ops).toEqual([
      { index: 0, time: 0, type: 'invoke', process: 0, f: 'read', value: null },
      { index: 1, time: 1, type: 'ok', process: 0, f: 'read', value: 1 },
    ]);
  });

  it('unpacks independent tuples when asked', () => {
    const { ops } = parseJsonl(line({ ...invoke, value: ['k', 3] }), undefined, { independent: true });
    expect(ops[0]).toMatchObject({ key: 'k', value: 3 });
  });

  it('returns no ops for empty text', () => {
    expect(parseJsonl('').ops).toEqual([]);
    expect(parseJsonl('\n \n').ops).toEqual([]);
  });
});

describe('parseJsonl errors name the file, the line and the problem', () => {
  const at3 = (bad: string) => () => parseJsonl(`${line(invoke)}\n\n${bad}\n${line(ok)}`, 'h.jsonl');
  const cases: Array<[string, string, RegExp]> = [
    ['malformed JSON', '{"index": 2, "type": ', /malformed JSON.*one JSON object/],
    ['not an object', '[1, 2]', /expected an op object, got an array/],
    ['a string', '"op"', /expected an op object, got a string/],
    ['missing type', line({ index: 2, time: 9, process: 1, f: 'read' }), /missing "type"/],
    ['unknown type', line({ ...ok, type: 'done' }), /unknown "type": a string "done".*invoke, ok, fail or info/],
    ['type not a string', line({ ...ok, type: 1 }), /unknown "type": a number 1/],
    ['missing f', line({ index: 2, time: 9, type: 'invoke', process: 1 }), /missing "f"/],
    ['f not a string', line({ ...ok, f: 7 }), /"f" must be a non-empty string, got a number 7/],
    ['empty f', line({ ...ok, f: '' }), /"f" must be a non-empty string/],
    ['missing process', line({ index: 2, time: 9, type: 'invoke', f: 'read' }), /missing "process"/],
    ['fractional process', line({ ...ok, process: 1.5 }), /"process" must be an integer >= 0 or nemesis, got a number 1.5/],
    ['string process', line({ ...ok, process: '3' }), /"process" must be an integer >= 0 or nemesis, got a string "3"/],
    ['negative process', line({ ...ok, process: -1 }), /"process" must be an integer >= 0/],
    ['negative time', line({ ...ok, time: -5 }), /"time" must be a number of nanoseconds >= 0, got a number -5/],
    ['non-numeric time', line({ ...ok, time: '5ms' }), /"time" must be a number of nanoseconds >= 0, got a string "5ms"/],
    ['time missing on one op', line({ index: 2, type: 'invoke', process: 1, f: 'read' }), /missing "time" \(earlier ops have one\)/],
    ['negative index', line({ ...ok, index: -1 }), /"index" must be an integer >= 0/],
    ['fractional index', line({ ...ok, index: 2.5 }), /"index" must be an integer >= 0/],
    ['key of a wrong type', line({ ...ok, key: [1] }), /"key" must be a string or a number, got an array \[1\]/],
    ['null key', line({ ...ok, key: null }), /"key" must be a string or a number, got null/],
    ['number out of range', '{"index":2,"time":9,"type":"invoke","process":1,"f":"write","value":1e999}', /out of range/],
    ['deep nesting', `{"index":2,"time":9,"type":"invoke","process":1,"f":"write","value":${'['.repeat(600)}${']'.repeat(600)}}`, /nested deeper than 500/],
  ];
  for (const [name, bad, pattern] of cases) {
    it(name, () => {
      const e = expectInputError(at3(bad), 3, pattern);
      expect(e.toLine().startsWith('h.jsonl:3: ')).toBe(true);
    });
  }

  it('time present only on a later op', () => {
    expectInputError(
      () => parseJsonl(`{"type":"invoke","process":0,"f":"r"}\n{"type":"ok","process":0,"f":"r","time":4}`),
      2,
      /has "time" but earlier ops do not/,
    );
  });

  it('an independent read without a tuple', () => {
    expectInputError(() => parseJsonl(line(invoke), 'h.jsonl', { independent: true }), 1, /must be a \[key value\] tuple, got a number 3/);
  });
});

describe('formatJsonl', () => {
  const history: History = [
    { index: 0, time: 0, type: 'invoke', process: 0, f: 'cas', key: 'k', value: [1, 2] },
    { index: 1, time: 10, type: 'info', process: 0, f: 'cas', key: 'k', value: [1, 2], error: 'timed-out' },
    { index: 2, time: 20, type: 'info', process: 'nemesis', f: 'start', value: null },
  ];

  it('writes one line per op with the fields in a fixed order', () => {
    expect(formatOp(history[1])).toBe('{"index":1,"time":10,"type":"info","process":0,"f":"cas","key":"k","value":[1,2],"error":"timed-out"}');
    const text = formatJsonl(history);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n')).toHaveLength(4);
    expect(formatJsonl([])).toBe('');
  });

  it('reads back what it wrote', () => {
    expect(parseJsonl(formatJsonl(history)).ops).toEqual(history);
  });

  it('escapes line separators that JSON.stringify leaves raw', () => {
    const op = { ...history[0], value: 'a\u2028b\u2029c\nd' };
    expect(formatOp(op)).toBe('{"index":0,"time":0,"type":"invoke","process":0,"f":"cas","key":"k","value":"a\\u2028b\\u2029c\\nd"}');
    expect(parseJsonl(formatOp(op)).ops[0]).toEqual(op);
  });
});
