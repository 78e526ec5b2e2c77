// Reading a history file in either format, chosen by extension or, failing
// that, by a look at the first character. All problems are InputErrors.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseEdn } from './edn.js';
import { InputError } from './input-error.js';
import { parseJsonl } from './jsonl.js';
import { pairOps } from './pair.js';
import type { History, Operation, Value } from './types.js';

export type HistoryFormat = 'jsonl' | 'edn';

export interface ReadOptions {
  /** Skip the guess: read as this format. */
  format?: HistoryFormat;
  /**
   * Unpack Jepsen `independent` [key value] tuples (see parseEdn); 'detect':
   * unpack them if every client op's value is one (see looksIndependent).
   */
  independent?: boolean | 'detect';
}

export interface ReadResult {
  ops: History;
  /** 1-based source line of each op. */
  lines: number[];
  format: HistoryFormat;
  /** Whether the values were unpacked from independent [key value] tuples. */
  independent: boolean;
}

export async function readHistoryFile(path: string, opts: ReadOptions = {}): Promise<ReadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw cannotRead(path, e);
  }
  return parseHistory(text, path, opts);
}

export function readHistoryFileSync(path: string, opts: ReadOptions = {}): ReadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw cannotRead(path, e);
  }
  return parseHistory(text, path, opts);
}

/** Reads a history and pairs invocations with completions; pairing errors name the source line. */
export async function readOperations(path: string, opts: ReadOptions = {}): Promise<ReadResult & { operations: Operation[] }> {
  const read = await readHistoryFile(path, opts);
  return { ...read, operations: pairOps(read.ops, { file: path, lines: read.lines }) };
}

export function readOperationsSync(path: string, opts: ReadOptions = {}): ReadResult & { operations: Operation[] } {
  const read = readHistoryFileSync(path, opts);
  return { ...read, operations: pairOps(read.ops, { file: path, lines: read.lines }) };
}

/** Parses history text; `file` names it in messages and decides the format by its extension. */
export function parseHistory(text: string, file: string, opts: ReadOptions = {}): ReadResult {
  const format = opts.format ?? formatOf(file, text);
  const independent = opts.independent === true;
  const { ops, lines } = format === 'edn' ? parseEdn(text, file, { independent }) : parseJsonl(text, file, { independent });
  if (ops.length === 0) throw new InputError('no operations', { file }, 'the file is empty or holds only blank lines; check the path');
  if (opts.independent === 'detect' && looksIndependent(ops)) {
    unpackIndependent(ops);
    return { ops, lines, format, independent: true };
  }
  return { ops, lines, format, independent };
}

/**
 * Whether a history looks like the output of Jepsen's `independent`
 * generator: every client op's value is a [key value] tuple with a number or
 * string key, no op has a :key of its own, and not every op is a cas (whose
 * [from to] value is a tuple too). A plain history never passes: its reads
 * are invoked with nil, its writes with a bare value, and a txn's first
 * element is a micro-op, not a key.
 */
export function looksIndependent(ops: History): boolean {
  let client = 0;
  let cas = 0;
  for (const op of ops) {
    if (typeof op.process !== 'number') continue;
    client++;
    if (op.f === 'cas') cas++;
    const v = op.value;
    if (op.key !== undefined || !Array.isArray(v) || v.length !== 2 || (typeof v[0] !== 'string' && typeof v[0] !== 'number')) return false;
  }
  return client > 0 && cas < client;
}

/** Splits every client op's [key value] tuple into key and value, in place (after looksIndependent). */
function unpackIndependent(ops: History): void {
  for (const op of ops) {
    if (typeof op.process !== 'number') continue;
    const [key, value] = op.value as [string | number, Value];
    op.key = key;
    op.value = value;
  }
}

/**
 * The history file a path names: the path itself, or in a folder, a run's
 * history as Jepsen's store keeps it (STORE/TEST/TIMESTAMP/history.edn, also
 * through STORE/TEST/latest) or as ours does (history.jsonl).
 */
export function historyPath(path: string): string {
  let stat;
  try {
    stat = statSync(path);
  } catch (e) {
    throw cannotRead(path, e);
  }
  if (!stat.isDirectory()) return path;
  for (const name of ['history.edn', 'history.jsonl', join('latest', 'history.edn'), join('latest', 'history.jsonl')]) {
    if (existsSync(join(path, name))) return join(path, name);
  }
  throw new InputError(
    `no history.edn (Jepsen) or history.jsonl in the folder ${path}`,
    {},
    'point at one run: a Jepsen store keeps each in STORE/TEST/TIMESTAMP/ (STORE/TEST/latest/ is the last)',
  );
}

function formatOf(file: string, text: string): HistoryFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.json' || ext === '.ndjson') return 'jsonl';
  if (ext === '.edn') return 'edn';
  // Sniff: JSON lines start with {"..., EDN with {:..., [ or (.
  const m = /^[\s\ufeff,]*(\S)\s*(\S?)/.exec(text);
  if (!m) return 'jsonl'; // blank: parsing finds no operations
  const [, first, second] = m;
  if (first === '{') return second === '"' ? 'jsonl' : 'edn';
  if (first === '[' && second === '{' && /^[\s\ufeff]*\[\s*\{\s*"/.test(text)) {
    throw new InputError('this looks like a JSON array; histories are JSON lines, one op object per line', { file }, 'write one JSON object per line');
  }
  if (first === '[' || first === '(' || first === ';') return 'edn';
  throw new InputError(
    `cannot tell the format: the file starts with ${JSON.stringify(first)}`,
    { file },
    'histories are JSON lines (.jsonl) or Jepsen EDN (.edn); name the file accordingly',
  );
}

function cannotRead(path: string, e: unknown): InputError {
  return new InputError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, {}, 'check the path');
}
