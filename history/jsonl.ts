// Our own history format: JSON lines, one op object per line, e.g.
//   {"index":0,"time":0,"type":"invoke","process":0,"f":"write","value":3}
//   {"index":1,"time":1200,"type":"ok","process":0,"f":"write","value":3}
// Fields: index (integer >= 0), time (ns >= 0), type (invoke|ok|fail|info), f,
// process (integer >= 0 or "nemesis"), value (any JSON; null when left out),
// optional key (string or number) and error (any JSON). Other fields are ignored.
// A missing index means the op's position; a missing time must be missing on
// every op (then time = index). Blank lines are skipped.

import { buildHistory, MAX_DEPTH, type SourceRecord } from './fields.js';
import { InputError } from './input-error.js';
import type { History, Op, Value } from './types.js';

export interface JsonlParseOptions {
  /** Unpack Jepsen `independent` tuples: a client op's value `[k v]` becomes key k, value v. */
  independent?: boolean;
}

/** Parses JSON lines. `lines[i]` is the 1-based source line of `ops[i]`. Throws only InputError. */
export function parseJsonl(text: string, file?: string, opts: JsonlParseOptions = {}): { ops: History; lines: number[] } {
  const records: SourceRecord[] = [];
  const rows = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split('\n');
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (/^\s*$/.test(row)) continue;
    const line = i + 1;
    let value: Value;
    try {
      value = JSON.parse(row) as Value;
    } catch (e) {
      throw new InputError(
        `malformed JSON: ${(e as Error).message}`,
        { file, line },
        'each line must be one JSON object, e.g. {"index":0,"time":0,"type":"invoke","process":0,"f":"read","value":null}',
      );
    }
    checkJsonValue(value, file, line);
    records.push({ value, line });
  }
  return buildHistory(records, { file, style: 'json', independent: opts.independent });
}

// JSON.parse turns 1e999 into Infinity (which would be written back as null)
// and happily builds arbitrarily deep values; refuse both. The recursion stops
// at MAX_DEPTH, so a hostile line cannot overflow the stack.
function checkJsonValue(v: Value, file: string | undefined, line: number, depth = 0): void {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InputError('a number is out of range (larger than a double can hold)', { file, line }, 'write numbers within ±1.8e308');
  } else if (v !== null && typeof v === 'object') {
    if (depth >= MAX_DEPTH) throw new InputError(`a value is nested deeper than ${MAX_DEPTH} levels`, { file, line }, 'flatten the value');
    for (const child of Array.isArray(v) ? v : Object.values(v)) checkJsonValue(child, file, line, depth + 1);
  }
}

/**
 * One op as one JSON line (no newline), for recorders that append as they go.
 * Values must be JSON-representable: non-finite numbers become null, as in JSON.stringify.
 */
export function formatOp(op: Op): string {
  const out: Record<string, unknown> = { index: op.index, time: op.time, type: op.type, process: op.process, f: op.f };
  if (op.key !== undefined) out.key = op.key;
  out.value = op.value;
  if (op.error !== undefined) out.error = op.error;
  // JSON.stringify leaves U+2028/U+2029 raw; many editors and line readers
  // break lines there, so escape them to keep one op per line everywhere.
  return JSON.stringify(out).replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
}

/** A whole history as JSON lines, each ending in a newline. */
export function formatJsonl(history: History): string {
  return history.map((op) => `${formatOp(op)}\n`).join('');
}
