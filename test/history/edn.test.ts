import { describe, expect, it } from 'vitest';
import { formatEdn, formatEdnOp, parseEdn } from '../../history/edn.js';
import type { History, Value } from '../../history/types.js';
import { expectInputError } from './gen.js';

// The examples of /work/shared/histories/README.md.
const README = `{:type :invoke, :f :cas, :value [1 4], :process 3, :time 5000000, :index 5}
{:type :ok, :f :cas, :value [1 4], :process 3, :time 7000000, :index 7}
{:type :info, :f :write, :value 2, :error :timed-out, :process 1, :time 9000000, :index 9}
{:process 0, :type :invoke, :f :get, :key "6", :value nil, :index 10, :time 10000000}
{:process 0, :type :ok, :f :get, :key "6", :value "x 0 1 y", :index 11, :time 11000000}
`;

/** The value of `:value` in a minimal op. */
const valueOf = (edn: string): Value => parseEdn(`{:type :invoke, :f :w, :process 0, :value ${edn}}`).ops[0].value;

describe('parseEdn', () => {
  it('reads one op map per line: keywords to strings, nil to null', () => {
    const { ops, lines } = parseEdn(README, 'r.edn');
    expect(lines).toEqual([1, 2, 3, 4, 5]);
    expect(ops[0]).toEqual({ index: 5, time: 5_000_000, type: 'invoke', process: 3, f: 'cas', value: [1, 4] });
    expect(ops[2]).toEqual({ index: 9, time: 9_000_000, type: 'info', process: 1, f: 'write', value: 2, error: 'timed-out' });
    expect(ops[3]).toEqual({ index: 10, time: 10_000_000, type: 'invoke', process: 0, f: 'get', key: '6', value: null });
    expect(ops[4].value).toBe('x 0 1 y');
  });

  it('reads a whole file that is one vector or list of op maps, with the line of each', () => {
    const text = `[{:type :invoke, :f :read,\n  :process 0, :time 0, :index 0}\n {:type :ok, :f :read, :value 3,\n  :process 0, :time 1, :index 1}]\n`;
    const { ops, lines } = parseEdn(text);
    expect(lines).toEqual([1, 3]);
    expect(ops.map((o) => o.value)).toEqual([null, 3]);
    expect(parseEdn(`; a comment\n(${text.slice(1, -2)})`).lines).toEqual([2, 4]);
  });

  it('maps EDN values to plain data', () => {
    expect(valueOf('[1 -2 +3 1.5 -2e3 1.0M 7N 1/4 true false nil]')).toEqual([1, -2, 3, 1.5, -2000, 1, 7, 0.25, true, false, null]);
    expect(valueOf('"tab\\there \\"q\\" \\\\ \\u00e9"')).toBe('tab\there "q" \\ é');
    expect(valueOf('"two\nlines"')).toBe('two\nlines');
    expect(valueOf('{:a 1, "b" [2], 3 :c}')).toEqual({ a: 1, b: [2], 3: 'c' });
    expect(valueOf('(1 (2))')).toEqual([1, [2]]);
    expect(valueOf('#{1 2}')).toEqual([1, 2]);
    expect(valueOf('#inst "2024-01-01T00:00:00Z"')).toBe('2024-01-01T00:00:00Z');
    expect(valueOf('#jepsen.history.Op {:a 1}')).toEqual({ a: 1 });
    expect(valueOf('[foo ns/bar :ns/kw \\a \\newline \\u0041]')).toEqual(['foo', 'ns/bar', 'ns/kw', 'a', '\n', 'A']);
    expect(valueOf('[##Inf ##-Inf]')).toEqual([Infinity, -Infinity]);
    expect(valueOf('[1 #_ 2 #_#_ 3 4 5]')).toEqual([1, 5]);
    expect(valueOf('{:__proto__ 1}')).toEqual(Object.defineProperty({}, '__proto__', { value: 1, enumerable: true }));
    expect(Object.getPrototypeOf(valueOf('{:__proto__ {:polluted 1}}'))).toBe(Object.prototype);
  });

  it('skips comments, commas and blank lines; a missing :value is nil', () => {
    const { ops, lines } = parseEdn(';; header\n\n{:type :invoke :f :read :process 0 :time 0 :index 0} ; trailing\n,,\n');
    expect(ops[0].value).toBeNull();
    expect(lines).toEqual([3]);
  });

  it('reads the nemesis process', () => {
    const { ops } = parseEdn('{:type :info, :f :start, :process :nemesis, :time 0, :index 0, :value {"n1" #{"n2"}}}');
    expect(ops[0]).toMatchObject({ process: 'nemesis', value: { n1: ['n2'] } });
  });

  it('uses the position for a missing :index and the index for :time when no op has one', () => {
    const { ops } = parseEdn('{:type :invoke, :f :r, :process 0}\n{:type :ok, :f :r, :process 0, :value 1}');
    expect(ops.map((o) => [o.index, o.time])).toEqual([
      [0, 0],
      [1, 1],
    ]);
  });

  it('unpacks independent [key value] tuples only when asked', () => {
    const text =
      '{:type :invoke, :f :cas, :value [7 [1 2]], :process 0, :time 0, :index 0}\n{:type :info, :f :kill, :value [:n1], :process :nemesis, :time 1, :index 1}';
    expect(parseEdn(text).ops[0]).toMatchObject({ value: [7, [1, 2]] });
    expect(parseEdn(text).ops[0].key).toBeUndefined();
    const { ops } = parseEdn(text, undefined, { independent: true });
    expect(ops[0]).toMatchObject({ key: 7, value: [1, 2] });
    expect(ops[1]).toMatchObject({ process: 'nemesis', value: ['n1'] });
  });
});

describe('parseEdn errors name the file, the line and the problem', () => {
  const good = '{:type :invoke, :f :read, :process 0, :time 0, :index 0}';
  const at3 = (bad: string) => () => parseEdn(`${good}\n\n${bad}\n`, 'h.edn');
  const cases: Array<[string, string, RegExp]> = [
    ['an unclosed map', '{:type :ok, :f :read', /end of file: the map opened at line 3 is not closed/],
    ['a mismatched bracket', '{:type :ok, :f :read]', /'\]' does not close the map opened at line 3/],
    ['a stray closer', ']', /unexpected '\]' with nothing open to close/],
    ['a key without a value', '{:type :ok, :f}', /the map opened at line 3 has a key without a value/],
    ['a duplicate key', '{:type :ok, :type :ok}', /has the key "type" twice/],
    ['an unterminated string', '{:type :ok, :f "read}', /unterminated string starting at line 3/],
    ['a bad escape', '{:value "a\\qb"}', /bad escape in string: "\\\\q"/],
    ['a malformed number', '{:value 1.2.3}', /malformed number "1.2.3"/],
    ['an octal-looking number', '{:value 012}', /malformed number "012"/],
    ['an integer beyond 2^53', '{:value 123456789012345678901}', /too large to read exactly/],
    ['a float out of range', '{:value 1e999}', /out of range/],
    ['a bare colon', '{: 1}', /malformed keyword ":"/],
    ['an auto-resolved keyword', '{::type :ok}', /malformed keyword "::type"/],
    ['a regex', '{:value #"a+"}', /unexpected "#\\""/],
    ['an unknown ## value', '{:value ##Foo}', /unknown symbolic value/],
    ['a bad character', '{:value \\bogus}', /unknown character "\\\\bogus"/],
    ['deep nesting', `{:value ${'['.repeat(600)}}`, /nested deeper than 500 levels/],
    ['a form that is not a map', '[:invoke :read]', /expected an op map, got a vector/],
    ['an unknown type', '{:type :done, :f :read, :process 0, :time 1, :index 1}', /unknown :type: a string "done"/],
    ['a missing type', '{:f :read, :process 0, :time 1, :index 1}', /missing :type/],
    ['a missing f', '{:type :ok, :process 0, :time 1, :index 1}', /missing :f/],
    ['a missing process', '{:type :ok, :f :read, :time 1, :index 1}', /missing :process/],
    ['a keyword process', '{:type :ok, :f :read, :process :client, :time 1, :index 1}', /:process must be an integer >= 0 or nemesis, got a string "client"/],
    ['a fractional process', '{:type :ok, :f :read, :process 1.5, :time 1, :index 1}', /:process must be an integer >= 0 or nemesis, got a number 1.5/],
    ['a negative time', '{:type :ok, :f :read, :process 0, :time -1, :index 1}', /:time must be a number of nanoseconds >= 0, got a number -1/],
    ['a non-numeric time', '{:type :ok, :f :read, :process 0, :time :now, :index 1}', /:time must be a number of nanoseconds >= 0, got a string "now"/],
    ['an infinite time', '{:type :ok, :f :read, :process 0, :time ##Inf, :index 1}', /:time must be a number/],
    ['a missing time', '{:type :ok, :f :read, :process 0, :index 1}', /missing :time \(earlier ops have one\)/],
    ['a map key', '{:type :ok, :f :read, :process 0, :time 1, :index 1, :key {:a 1}}', /:key must be a string or a number, got a map/],
  ];
  for (const [name, bad, pattern] of cases) {
    it(name, () => {
      expect(expectInputError(at3(bad), 3, pattern).toLine().startsWith('h.edn:3: ')).toBe(true);
    });
  }

  it('an error inside a multi-line vector points at the op', () => {
    const text = `[${good}\n ${good.replace(':index 0', ':index 1').replace(':process 0', ':process 2.5')}]`;
    expectInputError(() => parseEdn(text, 'v.edn'), 2, /:process must be an integer/);
  });

  it('text after the vector of ops', () => {
    expectInputError(() => parseEdn(`[${good}]\n${good}`, 'v.edn'), 2, /unexpected text after the collection of ops/);
  });

  it('an unterminated string reports the line where it starts', () => {
    expectInputError(() => parseEdn(`${good}\n{:value "abc\n\n\n`, 'v.edn'), 2, /unterminated string starting at line 2/);
  });

  it('an independent op without a tuple', () => {
    expectInputError(
      () => parseEdn(good, 'i.edn', { independent: true }),
      1,
      /with independent keys every client op's :value must be a \[key value\] tuple, got nil/,
    );
    // A txn's value is a vector of micro-ops, not a tuple; the message says what it is.
    expectInputError(
      () => parseEdn(good.replace('}', ', :value [[:read :x nil]]}'), 'i.edn', { independent: true }),
      1,
      /tuple, got a vector \[\["read","x",null\]\]/,
    );
    expectInputError(() => parseEdn(good.replace('}', ', :value (1 2 3)}'), 'i.edn', { independent: true }), 1, /tuple, got a list \[1,2,3\]/);
    expectInputError(
      () => parseEdn(good.replace('}', ', :key 1, :value [1 2]}'), 'i.edn', { independent: true }),
      1,
      /has :key but the file is read as independent/,
    );
  });
});

describe('formatEdn', () => {
  const history: History = [
    { index: 0, time: 0, type: 'invoke', process: 3, f: 'cas', value: [1, 4] },
    { index: 1, time: 1e6, type: 'info', process: 3, f: 'cas', value: [1, 4], error: 'timed-out' },
    { index: 2, time: 2e6, type: 'info', process: 'nemesis', f: 'start', value: { n1: ['n2'], 'not a keyword': 1 } },
    { index: 3, time: 3e6, type: 'invoke', process: 4, f: 'append', key: '6', value: 'x "0" \n y', error: 'a b' },
  ];

  it('writes Jepsen EDN, one map per line, keywords where Jepsen has them', () => {
    const lines = formatEdn(history).split('\n');
    expect(lines).toEqual([
      '{:index 0, :time 0, :type :invoke, :process 3, :f :cas, :value [1 4]}',
      '{:index 1, :time 1000000, :type :info, :process 3, :f :cas, :value [1 4], :error :timed-out}',
      '{:index 2, :time 2000000, :type :info, :process :nemesis, :f :start, :value {:n1 ["n2"], "not a keyword" 1}}',
      '{:index 3, :time 3000000, :type :invoke, :process 4, :f :append, :key "6", :value "x \\"0\\" \\n y", :error "a b"}',
      '',
    ]);
    expect(formatEdnOp(history[0])).toBe(lines[0]);
  });

  it('writes numbers that read back exactly', () => {
    const values = [1e20, 1e21, -0, 0.1, 1e-7, 2 ** 53, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE];
    const op = { index: 0, time: 0, type: 'invoke' as const, process: 0, f: 'w', value: values };
    expect(parseEdn(formatEdn([op])).ops[0].value).toEqual(values);
  });

  it('reads back what it wrote', () => {
    expect(parseEdn(formatEdn(history)).ops).toEqual(history);
  });
});
