// Jepsen's EDN histories: one op map per line, e.g.
//   {:type :invoke, :f :cas, :value [1 4], :process 3, :time 5000000, :index 5}
// or a whole file that is one vector (or list) of op maps.
//
// Mapping to our plain values: keywords and symbols become strings without the
// colon (:timed-out -> "timed-out"), nil -> null, vectors, lists and sets ->
// arrays, maps -> objects (keys become strings), tagged literals (#inst "...",
// #jepsen.history.Op{...}) -> the tagged value, ##Inf/##-Inf/##NaN -> the
// numbers. Keywords and strings thus read alike: :read and "read" are both "read".
//
// Why not the edn-data package (the design prefers libraries): measured on
// porcupine-kv/c50-bad.edn (2024 ops, 4048 lines), edn-data 1.2.2's
// parseEDNString takes ~100 ms for the file and ~50 ms line by line (it grows
// every token one character at a time); and it is lax where we need clear
// errors: an unclosed map or string returns null, `{:a 1]` is accepted as a
// vector, `{:a}` silently drops the key, a stray `]` throws a TypeError,
// integers beyond 2^53 silently lose precision, and no error carries a line.
// This small reader is strict, tracks lines, and reads c50-bad, validation
// included, in ~5 ms (JSON.parse alone of the same ops as JSON lines: ~3 ms).

import { buildHistory, ednCollections, MAX_DEPTH, type SourceRecord } from './fields.js';
import { InputError } from './input-error.js';
import type { History, Op, Value } from './types.js';

export interface EdnParseOptions {
  /**
   * Jepsen's `independent` workloads wrap every client op's value in a
   * `[key value]` tuple. With this option such tuples are unpacked into
   * `key` and `value` (nemesis ops are left alone). It is off by default
   * because a tuple looks exactly like a cas value `[from to]`.
   */
  independent?: boolean;
}

/** Parses a Jepsen EDN history. `lines[i]` is the 1-based line where `ops[i]` starts. Throws only InputError. */
export function parseEdn(text: string, file?: string, opts: EdnParseOptions = {}): { ops: History; lines: number[] } {
  const r = new EdnReader(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, file);
  const records: SourceRecord[] = [];
  if (r.skip()) {
    const c = r.peek();
    if (c === OPEN_VEC || c === OPEN_LIST) {
      // The whole file is one collection of ops.
      const line = r.line;
      const lines: number[] = [];
      r.pos++;
      const items = r.seq(c === OPEN_VEC ? CLOSE_VEC : CLOSE_LIST, c === OPEN_VEC ? 'vector' : 'list', line, lines);
      if (r.skip()) r.fail('unexpected text after the collection of ops', 'a file is either one op map per line or one vector of op maps');
      items.forEach((value, i) => records.push({ value, line: lines[i] }));
    } else {
      do {
        const line = r.line;
        records.push({ value: r.form(), line });
      } while (r.skip());
    }
  }
  return buildHistory(records, { file, style: 'edn', independent: opts.independent });
}

const OPEN_MAP = 123,
  CLOSE_MAP = 125,
  OPEN_VEC = 91,
  CLOSE_VEC = 93,
  OPEN_LIST = 40,
  CLOSE_LIST = 41;
const QUOTE = 34,
  HASH = 35,
  BACKSLASH = 92,
  NEWLINE = 10;

/** Characters that end a token (symbol, keyword, number). */
const DELIMITER = new Uint8Array(128);
for (const ch of ' \t\n\r\v\f,";()[]{}') DELIMITER[ch.charCodeAt(0)] = 1;
const isDelimiter = (c: number) => c < 128 && DELIMITER[c] === 1;

const INT = /^[+-]?(0|[1-9][0-9]*)N?$/;
/** Only with a fraction, exponent or M: Clojure reads 012 as octal, so plain leading zeros are refused. */
const FLOAT = /^[+-]?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?M?$/;
const RATIO = /^[+-]?[0-9]+\/[0-9]+$/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '\\': '\\', '"': '"' };
const CHAR_NAMES: Record<string, string> = { newline: '\n', space: ' ', tab: '\t', return: '\r', formfeed: '\f', backspace: '\b' };

interface Open {
  close: number;
  what: string;
  line: number;
}

class EdnReader {
  pos = 0;
  line = 1;
  /** The collections being read, innermost last: for messages and the depth limit. */
  private readonly open: Open[] = [];

  constructor(
    private readonly text: string,
    private readonly file: string | undefined,
  ) {}

  fail(message: string, fix?: string, line = this.line): never {
    throw new InputError(message, { file: this.file, line }, fix);
  }

  peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  /** Skips whitespace, commas, comments and #_ discarded forms; false at the end of the text. */
  skip(): boolean {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === NEWLINE) {
        this.line++;
        this.pos++;
      } else if (c === 32 || c === 44 || (c >= 9 && c <= 13)) {
        this.pos++;
      } else if (c === 59 /* ; */) {
        while (this.pos < t.length && t.charCodeAt(this.pos) !== NEWLINE) this.pos++;
      } else if (c === HASH && t.charCodeAt(this.pos + 1) === 95 /* _ */) {
        this.pos += 2;
        this.prefixed('#_');
      } else {
        return true;
      }
    }
    return false;
  }

  /** Reads one value. */
  form(): Value {
    if (!this.skip()) {
      const top = this.open[this.open.length - 1];
      if (!top) this.fail('unexpected end of file, expected a value');
      // Point at where the unfinished form starts: the end of the file says nothing.
      if (top.close < 0) this.fail(`unexpected end of file: expected a value after ${top.what}`, undefined, top.line);
      this.fail(`unexpected end of file: the ${top.what} opened at line ${top.line} is not closed`, `add '${String.fromCharCode(top.close)}'`, top.line);
    }
    const c = this.peek();
    switch (c) {
      case OPEN_MAP:
        this.pos++;
        return this.map(this.line);
      case OPEN_VEC:
        this.pos++;
        return this.seq(CLOSE_VEC, 'vector', this.line);
      case OPEN_LIST:
        this.pos++;
        return this.seq(CLOSE_LIST, 'list', this.line);
      case CLOSE_MAP:
      case CLOSE_VEC:
      case CLOSE_LIST:
        return this.unexpectedCloser(c);
      case QUOTE:
        return this.string();
      case HASH:
        return this.dispatch();
      case BACKSLASH:
        return this.char();
      default:
        return this.token();
    }
  }

  private unexpectedCloser(c: number): never {
    const ch = String.fromCharCode(c);
    const top = this.open[this.open.length - 1];
    if (!top) this.fail(`unexpected '${ch}' with nothing open to close`, 'remove it or add the matching opening bracket');
    if (top.close < 0) this.fail(`expected a value after ${top.what} at line ${top.line}, found '${ch}'`);
    if (top.close === c) {
      this.fail(
        top.what === 'map' ? `the map opened at line ${top.line} has a key without a value` : `expected a value before '${ch}'`,
        top.what === 'map' ? 'a map holds key value pairs' : undefined,
      );
    }
    this.fail(`'${ch}' does not close the ${top.what} opened at line ${top.line}`, `close it with '${String.fromCharCode(top.close)}'`);
  }

  /** The value after a prefix (#_ or a #tag). Counted like a collection, so
   * that a long chain of prefixes cannot overflow the stack. */
  private prefixed(what: string): Value {
    this.enter(-1, what, this.line);
    const v = this.form();
    this.open.pop();
    return v;
  }

  /** `close` is the closing character, or -1 for a prefix. */
  private enter(close: number, what: string, line: number): void {
    if (this.open.length >= MAX_DEPTH) this.fail(`values are nested deeper than ${MAX_DEPTH} levels`, 'flatten the value');
    this.open.push({ close, what, line });
  }

  /** Reads the elements of a vector, list or set up to `close`; `lines` collects where each starts. */
  seq(close: number, what: string, line: number, lines?: number[]): Value[] {
    this.enter(close, what, line);
    const out: Value[] = [];
    for (;;) {
      if (this.skip() && this.peek() === close) break;
      lines?.push(this.line);
      out.push(this.form()); // reports the end of file or a mismatched bracket
    }
    this.pos++;
    this.open.pop();
    if (what !== 'vector') ednCollections.set(out, what === 'list' ? 'list' : 'set');
    return out;
  }

  private map(line: number): Value {
    this.enter(CLOSE_MAP, 'map', line);
    const out: { [k: string]: Value } = {};
    for (;;) {
      if (this.skip() && this.peek() === CLOSE_MAP) break;
      const keyLine = this.line;
      const k = this.form();
      const name = typeof k === 'string' ? k : k !== null && typeof k === 'object' ? JSON.stringify(k) : String(k);
      const v = this.form();
      if (Object.hasOwn(out, name)) this.fail(`the map opened at line ${line} has the key ${JSON.stringify(name)} twice`, 'remove one of them', keyLine);
      // Plain assignment of "__proto__" would set the prototype instead of a key
      // (defineProperty for every key would make the objects slow).
      if (name === '__proto__') Object.defineProperty(out, name, { value: v, enumerable: true, writable: true, configurable: true });
      else out[name] = v;
    }
    this.pos++;
    this.open.pop();
    return out;
  }

  private string(): string {
    const t = this.text;
    const startLine = this.line;
    let i = this.pos + 1;
    let from = i;
    let out = '';
    for (;;) {
      if (i >= t.length) this.fail(`unterminated string starting at line ${startLine}`, 'close it with "', startLine);
      const c = t.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === NEWLINE) this.line++;
      if (c === BACKSLASH) {
        out += t.slice(from, i);
        const e = t[i + 1];
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(t.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(t.slice(i + 2, i + 6), 16));
          i += 6;
        } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
          out += ESCAPES[e];
          i += 2;
        } else {
          this.fail(`bad escape in string: ${JSON.stringify(`\\${e ?? ''}`)}`, 'use \\n \\t \\r \\b \\f \\\\ \\" or \\uXXXX');
        }
        from = i;
        continue;
      }
      i++;
    }
    this.pos = i + 1;
    return out + t.slice(from, i);
  }

  /** `#{...}` sets, `##Inf`, and tagged literals `#tag value` (the tag is dropped). */
  private dispatch(): Value {
    const next = this.text.charCodeAt(this.pos + 1);
    if (next === OPEN_MAP) {
      const line = this.line;
      this.pos += 2;
      return this.seq(CLOSE_MAP, 'set', line);
    }
    const tag = this.text.slice(this.pos + 1, this.tokenEnd(this.pos + 1));
    if (next === HASH) {
      this.pos += 1 + tag.length;
      const n = ({ '#Inf': Infinity, '#-Inf': -Infinity, '#NaN': NaN } as Record<string, number>)[tag];
      if (n === undefined) this.fail(`unknown symbolic value #${JSON.stringify(tag)}`, 'EDN has ##Inf, ##-Inf and ##NaN');
      return n;
    }
    if (tag === '') this.fail(`unexpected ${JSON.stringify(this.text.slice(this.pos, this.pos + 2))}`, 'EDN has #{...} sets and #tag values');
    this.pos += 1 + tag.length;
    return this.prefixed(`#${tag}`);
  }

  private char(): string {
    const t = this.text;
    const c = t.charCodeAt(this.pos + 1);
    if (Number.isNaN(c) || c === 32 || (c >= 9 && c <= 13)) this.fail('a backslash must be followed by a character, e.g. \\a or \\newline');
    const end = this.tokenEnd(this.pos + 2);
    const name = t.slice(this.pos + 1, end);
    this.pos = end;
    if (name.length === 1) return name;
    if (Object.hasOwn(CHAR_NAMES, name)) return CHAR_NAMES[name];
    if (/^u[0-9a-fA-F]{4}$/.test(name)) return String.fromCharCode(parseInt(name.slice(1), 16));
    return this.fail(`unknown character ${JSON.stringify(`\\${name}`)}`, 'write a string "..." instead');
  }

  private tokenEnd(i: number): number {
    const t = this.text;
    while (i < t.length && !isDelimiter(t.charCodeAt(i))) i++;
    return i;
  }

  /** Keywords, symbols, numbers, nil, true, false. */
  private token(): Value {
    const t = this.text;
    const start = this.pos;
    const end = this.tokenEnd(start);
    this.pos = end;
    const c0 = t.charCodeAt(start);
    if (c0 === 58 /* : */) {
      if (end - start === 1 || t.charCodeAt(start + 1) === 58)
        this.fail(`malformed keyword ${JSON.stringify(t.slice(start, end))}`, 'a keyword is a colon and a name, e.g. :read');
      return t.slice(start + 1, end);
    }
    // Fast path for small non-negative integers, most numbers in a history.
    if (end - start < 16 && (c0 > 48 || (c0 === 48 && end - start === 1)) && c0 <= 57) {
      let n = 0;
      let i = start;
      for (; i < end; i++) {
        const c = t.charCodeAt(i);
        if (c < 48 || c > 57) break;
        n = n * 10 + (c - 48);
      }
      if (i === end) return n;
    }
    const tok = t.slice(start, end);
    const c1 = tok.charCodeAt(1);
    const digit = (c: number) => c >= 48 && c <= 57;
    if (digit(c0) || ((c0 === 43 || c0 === 45) && digit(c1))) return this.number(tok);
    if (tok === 'nil') return null;
    if (tok === 'true') return true;
    if (tok === 'false') return false;
    return tok; // a symbol
  }

  private number(tok: string): number {
    let n: number;
    if (INT.test(tok)) {
      n = Number(tok.endsWith('N') ? tok.slice(0, -1) : tok);
      if (!Number.isSafeInteger(n)) this.fail(`integer ${tok} is too large to read exactly (limit ±2^53)`, 'write it as a string or a float');
      return n;
    }
    if (FLOAT.test(tok) && /[.eEM]/.test(tok)) n = Number(tok.endsWith('M') ? tok.slice(0, -1) : tok);
    else if (RATIO.test(tok)) {
      const [a, b] = tok.split('/');
      n = Number(b) === 0 ? NaN : Number(a) / Number(b);
    } else this.fail(`malformed number ${JSON.stringify(tok)}`, 'EDN numbers look like 42, -7, 1.5, 2e-3');
    if (!Number.isFinite(n)) this.fail(`number ${tok} is out of range`, 'write numbers within ±1.8e308');
    return n;
  }
}

/** Names that read back as the same keyword in EDN (and in Clojure). */
const KEYWORD = /^[A-Za-z*!_?<>=][A-Za-z0-9*!_?<>=+\-.]*(\/[A-Za-z0-9*!_?<>=+\-.]+)?$/;

const keyword = (s: string) => (KEYWORD.test(s) ? `:${s}` : ednString(s));

/**
 * A history as Jepsen EDN, one op map per line. type, f, :nemesis, keyword-like
 * map keys and keyword-like string errors are written as keywords; other
 * strings as EDN strings. parseEdn reads it back to the same history.
 */
export function formatEdn(history: History): string {
  return history.map((op) => `${formatEdnOp(op)}\n`).join('');
}

/** One op as one EDN map (no newline). */
export function formatEdnOp(op: Op): string {
  let s = `{:index ${ednNumber(op.index)}, :time ${ednNumber(op.time)}, :type :${op.type}, :process ${typeof op.process === 'number' ? ednNumber(op.process) : keyword(op.process)}, :f ${keyword(op.f)}`;
  if (op.key !== undefined) s += `, :key ${ednValue(op.key)}`;
  s += `, :value ${ednValue(op.value)}`;
  if (op.error !== undefined) s += `, :error ${typeof op.error === 'string' ? keyword(op.error) : ednValue(op.error)}`;
  return `${s}}`;
}

/** A value as EDN: null -> nil, arrays -> vectors, objects -> maps. */
export function ednValue(v: Value): string {
  if (v === null) return 'nil';
  if (typeof v === 'string') return ednString(v);
  if (typeof v === 'number') return ednNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(ednValue).join(' ')}]`;
  return `{${Object.keys(v)
    .map((k) => `${keyword(k)} ${ednValue(v[k])}`)
    .join(', ')}}`;
}

function ednNumber(n: number): string {
  if (Number.isNaN(n)) return '##NaN';
  if (!Number.isFinite(n)) return n > 0 ? '##Inf' : '##-Inf';
  if (Object.is(n, -0)) return '-0.0';
  const s = String(n);
  // 1e20 prints as 100000000000000000000, which would read as an (inexact) integer.
  return Number.isSafeInteger(n) || /[.e]/.test(s) ? s : `${s}.0`;
}

// Control characters, line separators and unpaired surrogates are escaped so
// the output stays one line per op and valid UTF-8.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function ednString(s: string): string {
  return `"${s.replace(NEEDS_ESCAPE, (c) => {
    if (c === '"' || c === '\\') return `\\${c}`;
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  })}"`;
}
