// A campaign file, YAML or JSON (JSON is read by the same YAML 1.2 parser, so
// both get line numbers): a name, a budget, defaults and a matrix of cells.
// Only the shape is checked here; what each setting means is `undertow
// test`'s business (cells.ts puts every cell through its own flag parser).
// Every value keeps the line it came from, so that a mistake found later, in
// any cell, still points at the line to fix.

import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { InputError } from '../../history/input-error.js';

/** A setting's value as `undertow test` takes it: a flag's value, or a repeatable flag's list. */
export type FlagValue = string | number | boolean | string[];

/** One setting: the flag's name (`undertow test --FLAG`), its value, and the line it was given on. */
export interface Setting {
  flag: string;
  value: FlagValue;
  line: number;
}

/** One axis of a matrix: its alternatives, each with its own line. */
export interface Axis {
  flag: string;
  values: Setting[];
}

export type Expect = 'valid' | 'invalid';

/** A matrix (its axes multiply) or an explicit cell (every axis has one value). */
export interface CellGroup {
  axes: Axis[];
  expect: Expect | null;
  line: number;
}

export interface CampaignFile {
  file: string;
  name: string;
  /** Seconds. */
  budget: number;
  defaults: Setting[];
  groups: CellGroup[];
}

const TOP_KEYS = ['name', 'description', 'budget', 'defaults', 'matrix', 'cells'];

/** A matrix axis may be named as the issue and Jepsen's test-all do (plural); each is `undertow test`'s flag. */
export const AXIS_ALIASES: Record<string, string> = {
  systems: 'system',
  providers: 'provider',
  workloads: 'workload',
  bugs: 'bug',
  seeds: 'seed',
  opts: 'opt',
};

/** Flags that are the campaign's, not a cell's. */
const REFUSED: Record<string, string> = {
  store: 'the campaign writes every run to its own --store: give that on the command line',
  'test-count': 'list several seeds instead (seeds: [1, 2, 3] or seeds: 1..3)',
  help: 'not a test setting',
  version: 'not a test setting',
};

/** Flags taking comma lists, which a file may also give as a YAML list. */
const COMMA_FLAGS = new Set(['nemesis', 'partitions', 'packet', 'corruptions', 'targets']);

export function readCampaignFile(file: string): CampaignFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new InputError(`cannot read the campaign file ${file}`, {}, 'give the path of a .yaml or .json campaign file, e.g. campaigns/smoke.yaml');
  }
  return parseCampaign(text, file);
}

export function parseCampaign(text: string, file: string): CampaignFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lineCounter.linePos(node.range[0]).line : 1);
  const fail = (message: string, line: number, fix?: string): never => {
    throw new InputError(message, { file, line }, fix);
  };
  const syntax = doc.errors[0];
  if (syntax) {
    // An unclosed bracket or quote is reported at the end of the file: point at the last line with text instead.
    const lines = text.split('\n');
    let line = Math.min(lineCounter.linePos(syntax.pos[0]).line, lines.length);
    while (line > 1 && lines[line - 1].trim() === '') line--;
    fail(`not valid YAML or JSON: ${syntax.message.split('\n')[0]}`, line, 'fix the syntax at that line: indentation, quotes, a missing colon or bracket');
  }
  const root = doc.contents;
  if (!isMap(root)) return fail('a campaign file is a map (name, budget, defaults, matrix, cells)', lineOf(root), 'see the example in README.md');
  const field = (key: string) => root.items.find((p) => isScalar(p.key) && p.key.value === key);
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!TOP_KEYS.includes(key)) fail(`unknown key ${JSON.stringify(key)}`, lineOf(pair.key as Node), `a campaign has: ${TOP_KEYS.join(', ')}`);
  }

  const nameNode = field('name')?.value as Node | undefined;
  const name = isScalar(nameNode) ? nameNode.value : undefined;
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(name))
    fail(
      name === undefined ? 'the campaign has no name' : `name ${JSON.stringify(name)} is not a plain folder name`,
      lineOf(nameNode ?? root),
      'name: letters, digits, dot, dash and underscore; it names store/campaigns/NAME',
    );

  const budgetNode = field('budget')?.value as Node | undefined;
  const budget = parseBudget(isScalar(budgetNode) ? budgetNode.value : undefined);
  if (budget === null)
    fail(
      budgetNode === undefined ? 'the campaign has no budget' : `budget ${JSON.stringify(budgetNode.toJSON())} is not a duration`,
      lineOf(budgetNode ?? root),
      'budget: seconds such as 300, or 90s, 5m, 1h; cells stop starting once it is spent',
    );

  const defaultsNode = field('defaults')?.value as Node | undefined;
  let defaults: Setting[] = [];
  if (defaultsNode !== undefined && !(isScalar(defaultsNode) && defaultsNode.value === null)) {
    if (!isMap(defaultsNode)) fail('defaults must be a map of undertow test flags to values', lineOf(defaultsNode), 'e.g. defaults: { time-limit: 10 }');
    defaults = settingsOf(defaultsNode as YAMLMap, false, 'defaults').axes.map((a) => a.values[0]);
  }

  const groups: CellGroup[] = [];
  const matrixNode = field('matrix')?.value as Node | undefined;
  if (matrixNode !== undefined) {
    const maps = isSeq(matrixNode) ? matrixNode.items : [matrixNode];
    for (const m of maps) {
      if (!isMap(m)) fail('a matrix is a map of axes (or a list of such maps)', lineOf(m as Node), 'e.g. matrix: { workload: [register, set], seeds: [1, 2] }');
      groups.push(settingsOf(m as YAMLMap, true, 'matrix'));
    }
  }
  const cellsNode = field('cells')?.value as Node | undefined;
  if (cellsNode !== undefined) {
    if (!isSeq(cellsNode))
      fail('cells must be a list of maps, one per cell', lineOf(cellsNode), 'e.g. cells: [{ workload: register, bug: read-without-lease }]');
    for (const c of (cellsNode as { items: unknown[] }).items) {
      if (!isMap(c)) fail('each cell is a map of undertow test flags to values', lineOf(c as Node), 'e.g. - { workload: register, seed: 1 }');
      groups.push(settingsOf(c as YAMLMap, false, 'cell'));
    }
  }
  if (groups.length === 0) fail('the campaign has no cells', lineOf(root), 'add a matrix: (axes that multiply) or cells: (a list)');
  return { file, name: name as string, budget: budget as number, defaults, groups };

  /** A map of flags: in a matrix each value is a list of alternatives (a lone value is one), elsewhere each is one value. */
  function settingsOf(map: YAMLMap, alternatives: boolean, where: string): CellGroup {
    const axes: Axis[] = [];
    let expect: Expect | null = null;
    for (const pair of map.items) {
      const keyNode = pair.key as Node;
      const raw = isScalar(keyNode) ? String(keyNode.value) : '';
      const line = lineOf(keyNode);
      if (raw === 'expect') {
        const v = isScalar(pair.value) ? pair.value.value : undefined;
        if (where === 'defaults' || (v !== 'valid' && v !== 'invalid'))
          fail(
            where === 'defaults' ? 'expect is given per matrix or cell, not in defaults' : `expect ${JSON.stringify(v ?? null)} is not valid or invalid`,
            line,
            'expect: valid for a correct build, invalid for a seeded bug that must be caught; by default invalid with a bug, else valid',
          );
        expect = v as Expect;
        continue;
      }
      const flag = AXIS_ALIASES[raw] ?? raw;
      if (!/^[a-z][a-z0-9-]*$/.test(flag))
        fail(`${JSON.stringify(raw)} is not a flag name`, line, 'use undertow test flag names, such as time-limit or nemesis');
      if (Object.hasOwn(REFUSED, flag)) fail(`${raw} cannot be set in a campaign file`, line, REFUSED[flag]);
      if (axes.some((a) => a.flag === flag)) fail(`${raw} is given twice (as ${flag})`, line, 'give each flag once in a map');
      const valueNode = pair.value as Node | null;
      let alts: Node[] = [valueNode as Node];
      if (alternatives && isSeq(valueNode)) {
        alts = valueNode.items as Node[];
        if (alts.length === 0) fail(`axis ${raw} has no values, so the matrix has no cells`, line, 'list at least one value, or remove the axis');
      }
      const values: Setting[] = [];
      for (const alt of alts) {
        const altLine = alt ? lineOf(alt) : line;
        if (flag === 'seed' && isScalar(alt) && typeof alt.value === 'string' && /^\d+\.\.\d+$/.test(alt.value)) {
          const [from, to] = alt.value.split('..').map(Number);
          if (to < from || to - from > 10_000) fail(`seed range ${alt.value} is empty or too long`, altLine, 'write FROM..TO with FROM <= TO, e.g. 1..5');
          for (let s = from; s <= to; s++) values.push({ flag, value: s, line: altLine });
          continue;
        }
        values.push({ flag, value: flagValue(flag, alt, raw, altLine), line: altLine });
      }
      axes.push({ flag, values });
    }
    return { axes, expect, line: lineOf(map) };
  }

  /** One value of a flag: a scalar, a YAML list for comma-list and repeatable flags, a map for opt. */
  function flagValue(flag: string, node: Node | null, raw: string, line: number): FlagValue {
    const v: unknown = node === null ? null : node.toJSON();
    if (flag === 'bug' || flag === 'opt') {
      if (v === null || v === 'none') return [];
      if (flag === 'opt' && typeof v === 'object' && !Array.isArray(v))
        return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${String(x)}`);
      const list = Array.isArray(v) ? v : [v];
      if (list.every((x) => typeof x === 'string' || typeof x === 'number')) return list.map(String);
      return fail(
        `${raw}: ${JSON.stringify(v)} is not a ${flag === 'bug' ? 'bug name or a list of them' : 'KEY=VALUE, a list of them, or a map'}`,
        line,
        flag === 'bug' ? 'e.g. bugs: [none, read-without-lease]' : 'e.g. opts: [{ lease-ms: 500, grace-ms: 700 }]',
      );
    }
    if (COMMA_FLAGS.has(flag) && Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.length === 0 ? 'none' : v.join(',');
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
    return fail(`${raw}: ${JSON.stringify(v)} is not a single value`, line, `give ${raw} a number, a word or true/false`);
  }
}

/** Seconds from 300, "300", "90s", "5m" or "1h"; null if it is none of these or not positive. */
export function parseBudget(v: unknown): number | null {
  const m = typeof v === 'number' ? [String(v), String(v), 's'] : typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$/.exec(v) : null;
  if (!m) return null;
  const n = Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[m[2] || 's'];
  return Number.isFinite(n) && n > 0 ? n : null;
}
