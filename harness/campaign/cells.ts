// A campaign's cells: defaults, then each matrix's axes multiplied (the last
// axis varies fastest) and each explicit cell, in the file's order. Every cell
// goes through `undertow test`'s own flag parser and testConfig, so a cell
// means exactly what the same flags mean on the command line, and a mistake
// in any cell is found (with its line) before the first cell runs.

import yargs from 'yargs';
import { InputError } from '../../history/input-error.js';
import type { TestConfig } from '../run/run-test.js';
import { testConfig, testFlags, type TestArgs } from '../run/test-flags.js';
import type { CampaignFile, Expect, FlagValue, Setting } from './parse.js';

export interface Cell {
  /** Position in the whole campaign (0-based): what shards divide and merges join on. */
  index: number;
  /** The settings that tell this cell apart (`workload=register bug=x seed=1`): the key of its trend. */
  id: string;
  /** Every flag given for the cell (defaults included), as `undertow test --FLAG VALUE`. */
  settings: Record<string, FlagValue>;
  expect: Expect;
  /** Where the cell comes from in the file. */
  line: number;
  config: TestConfig;
}

/** Every cell of the campaign, validated; `store` is where its runs go. */
export function expandCells(c: CampaignFile, store: string): Cell[] {
  const cells: Cell[] = [];
  const ids = new Map<string, number>();
  for (const group of c.groups) {
    for (const combo of product(group.axes.map((a) => a.values))) {
      const given = new Map<string, Setting>();
      for (const s of c.defaults) given.set(s.flag, s);
      for (const s of combo) given.set(s.flag, s);
      const settings = Object.fromEntries([...given.values()].map((s) => [s.flag, mergeOpt(s, c.defaults)]));
      let id = combo.map((s) => `${s.flag}=${show(settings[s.flag])}`).join(' ') || `cell`;
      const seen = ids.get(id) ?? 0;
      ids.set(id, seen + 1);
      if (seen > 0) id = `${id} #${seen + 1}`;
      const line = combo[0]?.line ?? group.line;
      const config = validate(settings, [...combo, ...c.defaults], line, c.file, cells.length, store);
      cells.push({ index: cells.length, id, settings, expect: group.expect ?? (config.bugs.length > 0 ? 'invalid' : 'valid'), line, config });
    }
  }
  return cells;
}

/** A cell's --opt adds to (and overrides by key) the defaults' --opt, as a second --opt on a command line would not: one list. */
function mergeOpt(s: Setting, defaults: Setting[]): FlagValue {
  const base = defaults.find((d) => d.flag === 'opt');
  if (s.flag !== 'opt' || !base || base === s) return s.value;
  const byKey = new Map<string, string>();
  for (const kv of [...(base.value as string[]), ...(s.value as string[])]) byKey.set(kv.split('=')[0], kv);
  return [...byKey.values()];
}

export const show = (v: FlagValue): string => (Array.isArray(v) ? (v.length === 0 ? 'none' : v.join(',')) : String(v));

function* product<T>(axes: T[][]): Generator<T[]> {
  if (axes.length === 0) {
    yield [];
    return;
  }
  const [first, ...rest] = axes;
  for (const v of first) for (const tail of product(rest)) yield [v, ...tail];
}

/** The flags as a command line would give them. */
export function toArgv(settings: Record<string, FlagValue>): string[] {
  const argv: string[] = [];
  for (const [flag, v] of Object.entries(settings)) {
    if (typeof v === 'boolean') argv.push(v ? `--${flag}` : `--no-${flag}`);
    else if (Array.isArray(v)) for (const x of v) argv.push(`--${flag}`, x);
    else argv.push(`--${flag}`, String(v));
  }
  return argv;
}

/**
 * `undertow test`'s flags parsed by its own yargs builder (types, defaults,
 * unknown flags), then its testConfig; a mistake becomes one line at the line
 * of the setting it names (else the cell's).
 */
function validate(settings: Record<string, FlagValue>, given: Setting[], cellLine: number, file: string, index: number, store: string): TestConfig {
  const lineOf = (message: string): number => {
    const named = given.find((s) => message.includes(`--${s.flag}`) || (typeof s.value !== 'boolean' && message.includes(JSON.stringify(show(s.value)))));
    const unknown = /Unknown arguments?: (.*)/.exec(message)?.[1].split(', ')[0];
    return given.find((s) => s.flag === unknown)?.line ?? named?.line ?? cellLine;
  };
  try {
    const builder = testFlags;
    const args = builder(
      yargs()
        .exitProcess(false)
        .strict()
        .fail((msg, err) => {
          throw err ?? new InputError(msg ?? 'bad settings');
        }),
    ).parseSync(toArgv(settings)) as unknown as TestArgs;
    if (args['test-count'] !== 1) throw new InputError('--test-count cannot be set in a campaign');
    return testConfig({ ...args, store });
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const unknownFlag = /Unknown argument/.test(e.message);
    throw new InputError(
      `cell ${index + 1}: ${e.message.replace(/^Unknown arguments?: /, 'not an undertow test flag: ')}`,
      { file, line: lineOf(e.message) },
      unknownFlag ? 'use the flag names of undertow test --help' : (e.fix ?? 'fix the setting on that line; undertow test --help says what each flag takes'),
    );
  }
}

/** `--shard I/N`: the cells whose index is I-1 modulo N; every cell is in exactly one shard. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!(count >= 1 && index >= 1 && index <= count))
    throw new InputError(`--shard ${JSON.stringify(text)} is not I/N with 1 <= I <= N`, {}, 'e.g. --shard 2/4 for the second of four');
  return { index, count };
}

export function shardOf<T extends { index: number }>(cells: T[], shard: { index: number; count: number } | null): T[] {
  return shard ? cells.filter((c) => c.index % shard.count === shard.index - 1) : cells;
}
