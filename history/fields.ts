// Turns the records a reader parsed (one plain object per op, with its source
// line) into validated Ops. Shared by the JSON-lines and EDN readers so that
// both formats accept the same ops and explain mistakes the same way; only the
// spelling of field names in messages differs ("time" vs :time).

import { InputError } from './input-error.js';
import { NEMESIS, type History, type Key, type Op, type OpType, type Value } from './types.js';

/** Values nested deeper than this are refused: checkers, JSON.stringify and
 * deep equality all recurse, and a real history never comes close. */
export const MAX_DEPTH = 500;

export interface SourceRecord {
  value: Value;
  /** 1-based line where the record starts. */
  line: number;
}

export interface BuildOptions {
  file?: string;
  style: 'json' | 'edn';
  /** Unpack Jepsen `independent` tuples: a client op's value `[k v]` becomes key k, value v. */
  independent?: boolean;
}

const TYPES: ReadonlySet<string> = new Set<OpType>(['invoke', 'ok', 'fail', 'info']);

/**
 * Which EDN collection an array was read from, when it was not a vector:
 * values are plain arrays, but a message about the user's file should call
 * [1 2] a vector and (1 2) a list. Kept aside so values stay plain data.
 */
export const ednCollections = new WeakMap<Value[], 'list' | 'set'>();

/** A short rendering of a value for messages (never more than one line), named as the file's format names it. */
export function show(v: Value | undefined, style: 'json' | 'edn' = 'json'): string {
  if (v === undefined) return 'nothing';
  if (v === null) return style === 'edn' ? 'nil' : 'null';
  const array = (a: Value[]) => (style === 'json' ? 'an array' : `a ${ednCollections.get(a) ?? 'vector'}`);
  const kind = Array.isArray(v) ? array(v) : typeof v === 'object' ? 'a map' : `a ${typeof v}`;
  const text = JSON.stringify(v) ?? String(v);
  return `${kind} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}

export function buildHistory(records: SourceRecord[], opts: BuildOptions): { ops: History; lines: number[] } {
  const name = opts.style === 'edn' ? (f: string) => `:${f}` : (f: string) => `"${f}"`;
  const example =
    opts.style === 'edn'
      ? '{:index 0, :time 0, :type :invoke, :process 0, :f :read, :value nil}'
      : '{"index":0,"time":0,"type":"invoke","process":0,"f":"read","value":null}';
  const ops: Op[] = [];
  const lines: number[] = [];
  // Whether ops carry a time is decided by the first op: all or none must.
  let timed: boolean | undefined;

  for (const record of records) {
    const where = { file: opts.file, line: record.line };
    const fail = (message: string, fix: string): never => {
      throw new InputError(message, where, fix);
    };
    const rec = record.value;
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
      fail(`expected an op ${opts.style === 'edn' ? 'map' : 'object'}, got ${show(rec, opts.style)}`, `an op looks like ${example}`);
    }
    const obj = rec as { [k: string]: Value };
    const get = (field: string): Value | undefined => (Object.hasOwn(obj, field) ? obj[field] : undefined);

    const type = get('type');
    if (type === undefined) fail(`missing ${name('type')}`, `every op needs ${name('type')}: invoke, ok, fail or info`);
    if (typeof type !== 'string' || !TYPES.has(type)) {
      fail(`unknown ${name('type')}: ${show(type, opts.style)}`, `${name('type')} must be invoke, ok, fail or info`);
    }

    const f = get('f');
    if (f === undefined) fail(`missing ${name('f')}`, `every op needs ${name('f')}, the operation's function, e.g. read`);
    if (typeof f !== 'string' || f === '') {
      fail(
        `${name('f')} must be a ${opts.style === 'edn' ? 'keyword' : 'non-empty string'}, got ${show(f, opts.style)}`,
        `e.g. ${name('f')} ${opts.style === 'edn' ? ':read' : '"read"'}`,
      );
    }

    const process = get('process');
    const processFix = `${name('process')} is the client's id, an integer >= 0, or ${opts.style === 'edn' ? ':nemesis' : '"nemesis"'}`;
    if (process === undefined) fail(`missing ${name('process')}`, processFix);
    if (process !== NEMESIS && !(typeof process === 'number' && Number.isSafeInteger(process) && process >= 0)) {
      fail(`${name('process')} must be an integer >= 0 or nemesis, got ${show(process, opts.style)}`, processFix);
    }

    const index = get('index');
    if (index !== undefined && !(typeof index === 'number' && Number.isSafeInteger(index) && index >= 0)) {
      fail(
        `${name('index')} must be an integer >= 0, got ${show(index, opts.style)}`,
        `${name('index')} numbers the events 0, 1, 2, ... (or leave it out everywhere)`,
      );
    }

    const time = get('time');
    if (time !== undefined && !(typeof time === 'number' && Number.isFinite(time) && time >= 0)) {
      fail(
        `${name('time')} must be a number of nanoseconds >= 0, got ${show(time, opts.style)}`,
        `${name('time')} is monotonic nanoseconds since the test started`,
      );
    }
    if (timed === undefined) timed = time !== undefined;
    else if (timed !== (time !== undefined)) {
      fail(
        timed ? `missing ${name('time')} (earlier ops have one)` : `this op has ${name('time')} but earlier ops do not`,
        `give every op a ${name('time')}, or none (then time = index)`,
      );
    }

    let value = get('value') ?? null; // Jepsen leaves :value out when it is nil
    let key = get('key');
    if (key !== undefined && typeof key !== 'string' && !(typeof key === 'number' && Number.isFinite(key))) {
      fail(`${name('key')} must be a string or a number, got ${show(key, opts.style)}`, `${name('key')} names the independent key the op works on`);
    }
    if (opts.independent && process !== NEMESIS) {
      if (key !== undefined)
        fail(`this op has ${name('key')} but the file is read as independent [key value] tuples`, 'read it without the independent option');
      if (!Array.isArray(value) || value.length !== 2 || (typeof value[0] !== 'string' && typeof value[0] !== 'number')) {
        fail(
          `with independent keys every client op's ${name('value')} must be a [key value] tuple, got ${show(value, opts.style)}`,
          'read the file without the independent option',
        );
      }
      [key, value] = value as [Key, Value];
    }

    const op: Op = {
      index: (index as number | undefined) ?? ops.length,
      type: type as OpType,
      f: f as string,
      value,
      process: process as Op['process'],
      time: (time as number | undefined) ?? 0,
    };
    if (key !== undefined) op.key = key as Key;
    const error = get('error');
    if (error !== undefined) op.error = error;
    ops.push(op);
    lines.push(record.line);
  }
  if (timed === false) for (const op of ops) op.time = op.index;
  return { ops, lines };
}
