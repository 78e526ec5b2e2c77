// Test helpers for the history readers: generators of well-formed histories
// and an assertion for InputErrors.

import fc from 'fast-check';
import { expect } from 'vitest';
import { InputError } from '../../history/input-error.js';
import { NEMESIS, type History, type Key, type Op, type OpType, type Value } from '../../history/types.js';

export interface ValueOptions {
  /** Also -0, NaN and ±Infinity (EDN can hold them, JSON cannot). */
  special?: boolean;
}

/** Any code unit, lone surrogates and line separators included. */
const anyString = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 8 });
const someString = fc.oneof(fc.string({ maxLength: 8 }), anyString, fc.constantFrom('', 'read', 'timed-out', 'x 0 1 y', 'a/b', 'nil', '1', ':a', '__proto__'));

/** An object built without assignment, so that "__proto__" becomes an ordinary key. */
function objectOf(entries: Array<[string, Value]>): { [k: string]: Value } {
  const o: { [k: string]: Value } = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

export function valueArb(opts: ValueOptions = {}): fc.Arbitrary<Value> {
  const numbers: fc.Arbitrary<number>[] = [
    fc.integer({ min: -1000, max: 1000 }),
    fc.maxSafeInteger(),
    fc.double({ noNaN: !opts.special, noDefaultInfinity: !opts.special }).filter((x) => opts.special || !Object.is(x, -0)),
  ];
  const scalar = fc.oneof(fc.constant(null), fc.boolean(), ...numbers, someString);
  const { value } = fc.letrec<{ value: Value }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.uniqueArray(fc.tuple(someString, tie('value')), { maxLength: 4, selector: ([k]) => k }).map(objectOf),
    ),
  }));
  return value;
}

const fArb = fc.oneof(
  fc.constantFrom('read', 'write', 'cas', 'append', 'get', 'put'),
  someString.filter((s) => s !== ''),
);
const keyArb: fc.Arbitrary<Key> = fc.oneof(fc.string({ maxLength: 3 }), fc.integer({ min: -5, max: 50 }));

/**
 * Well-formed histories: six client slots, each with at most one open op;
 * an info completion retires the process (the slot gets a fresh id); nemesis
 * ops now and then; index and time increase (with gaps).
 */
export function historyArb(opts: ValueOptions = {}): fc.Arbitrary<History> {
  const value = valueArb(opts);
  const step = fc.record({
    slot: fc.nat(5),
    nemesis: fc.nat(9).map((n) => n === 0),
    f: fArb,
    value,
    key: fc.option(keyArb, { nil: undefined }),
    outcome: fc.constantFrom<OpType>('ok', 'fail', 'info'),
    error: fc.option(fc.oneof(fc.constant<Value>('timed-out'), value), { nil: undefined }),
    gap: fc.nat(2),
    dt: fc.oneof(fc.nat(1_000_000_000), fc.double({ min: 0, max: 1e6, noNaN: true })),
  });
  return fc.array(step, { maxLength: 30 }).map((steps) => {
    const procs: Array<{ id: number; open?: Op }> = Array.from({ length: 6 }, (_, id) => ({ id }));
    let nextId = procs.length;
    let index = 0;
    let time = 0;
    const history: History = [];
    for (const s of steps) {
      index += 1 + s.gap;
      time += s.dt;
      if (s.nemesis) {
        history.push({ index, time, type: 'info', process: NEMESIS, f: s.f, value: s.value });
        continue;
      }
      const p = procs[s.slot];
      const op: Op = p.open
        ? { index, time, type: s.outcome, process: p.id, f: p.open.f, value: s.outcome === 'ok' ? s.value : p.open.value }
        : { index, time, type: 'invoke', process: p.id, f: s.f, value: s.value };
      const key = p.open ? p.open.key : s.key;
      if (key !== undefined) op.key = key;
      if (p.open && s.outcome !== 'ok' && s.error !== undefined) op.error = s.error;
      history.push(op);
      if (!p.open) p.open = op;
      else {
        p.open = undefined;
        if (s.outcome === 'info') p.id = nextId++;
      }
    }
    return history;
  });
}

/** Runs `f` and asserts that it throws an InputError on `line` whose message matches `pattern`. */
export function expectInputError(f: () => unknown, line: number | undefined, pattern: RegExp): InputError {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected an InputError').toBeInstanceOf(InputError);
  const e = error as InputError;
  const text = e.toLine();
  if (line !== undefined) {
    expect(e.where.line).toBe(line);
    expect(text).toMatch(new RegExp(`^(.*:|line )${line}: `));
  }
  expect(text).toMatch(pattern);
  expect(text).not.toMatch(/[\n\r\u2028\u2029]/);
  return e;
}

/**
 * The fuzz property: a reader either returns (one source line per op) or
 * throws an InputError whose one-line text points inside the input.
 */
export function returnsOrInputError(text: string, parse: () => { ops: History; lines: number[] }): boolean {
  let result: { ops: History; lines: number[] };
  try {
    result = parse();
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const line = e.toLine();
    if (/[\n\r\u2028\u2029\u0085\v\f]/.test(line)) throw new Error(`toLine() spans lines: ${JSON.stringify(line)}`);
    const lineCount = text.split('\n').length;
    if (e.where.line !== undefined && !(e.where.line >= 1 && e.where.line <= lineCount)) {
      throw new Error(`error line ${e.where.line} outside the input's ${lineCount} lines: ${line}`);
    }
    return false;
  }
  expect(result.lines.length).toBe(result.ops.length);
  return true;
}
