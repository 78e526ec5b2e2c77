// Reading a history file in either format, chosen by extension or, failing
// that, by a look at the first character. All problems are InputErrors.

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseEdn } from './edn.js';
import { InputError } from './input-error.js';
import { parseJsonl } from './jsonl.js';
import { pairOps } from './pair.js';
import type { History, Operation } from './types.js';

export type HistoryFormat = 'jsonl' | 'edn';

export interface ReadOptions {
  /** Skip the guess: read as this format. */
  format?: HistoryFormat;
  /** Unpack Jepsen `independent` [key value] tuples (see parseEdn). */
  independent?: boolean;
}

export interface ReadResult {
  ops: History;
  /** 1-based source line of each op. */
  lines: number[];
  format: HistoryFormat;
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
  const { ops, lines } = format === 'edn' ? parseEdn(text, file, opts) : parseJsonl(text, file, opts);
  if (ops.length === 0) throw new InputError('no operations', { file }, 'the file is empty or holds only blank lines; check the path');
  return { ops, lines, format };
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
  throw new InputError(`cannot tell the format: the file starts with ${JSON.stringify(first)}`, { file }, 'histories are JSON lines (.jsonl) or Jepsen EDN (.edn); name the file accordingly');
}

function cannotRead(path: string, e: unknown): InputError {
  return new InputError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`, {}, 'check the path');
}
