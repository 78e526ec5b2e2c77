// The store: one folder per run, store/NAME/TIMESTAMP/, holding test.json,
// history.jsonl, nemesis.jsonl, results.json, report.html, harness.log and
// nodes/NODE/*.log; store/latest points at the newest run.

import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { threadId } from 'node:worker_threads';
import { InputError } from '../history/input-error.js';

export const DEFAULT_STORE = 'store';

export interface RunPaths {
  dir: string;
  test: string;
  history: string;
  nemesis: string;
  results: string;
  report: string;
  harnessLog: string;
  nodes: string;
}

export function runPaths(dir: string): RunPaths {
  return {
    dir,
    test: join(dir, 'test.json'),
    history: join(dir, 'history.jsonl'),
    nemesis: join(dir, 'nemesis.jsonl'),
    results: join(dir, 'results.json'),
    report: join(dir, 'report.html'),
    harnessLog: join(dir, 'harness.log'),
    nodes: join(dir, 'nodes'),
  };
}

/** Jepsen's run folder names: 20261123T171728.123Z, sortable and free of colons. */
export function timestamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '');
}

/** Makes store/NAME/TIMESTAMP/ and points store/latest at it. */
export function createRun(store: string, name: string, at: Date = new Date()): RunPaths {
  if (!/^[A-Za-z0-9._-]+$/.test(name))
    throw new InputError(`test name ${JSON.stringify(name)} is not a plain folder name`, {}, 'use letters, digits, dot, dash and underscore');
  mkdirSync(join(store, name), { recursive: true });
  // Runs that start in the same millisecond (--provider sim's seeds on worker threads) get a suffix: the folder is
  // claimed atomically, never shared.
  let dir = join(store, name, timestamp(at));
  for (let n = 1; ; n++) {
    try {
      mkdirSync(dir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      dir = join(store, name, `${timestamp(at)}-${n}`);
    }
  }
  mkdirSync(join(dir, 'nodes'));
  pointLatest(store, dir);
  return runPaths(dir);
}

/** store/latest -> the run (a relative link, so the store can move), replaced atomically. */
function pointLatest(store: string, dir: string): void {
  const latest = join(store, 'latest');
  // Per thread too: --provider sim runs seeds in worker threads of one process.
  const tmp = `${latest}.${process.pid}.${threadId}`;
  if (existsSync(tmp)) unlinkSync(tmp);
  symlinkSync(relative(store, dir), tmp);
  renameSync(tmp, latest);
}

/** The run a command names, or store/latest; one clear line if there is none. */
export function resolveRun(arg: string | undefined, store: string = DEFAULT_STORE): RunPaths {
  const dir = arg ?? join(store, 'latest');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new InputError(
      arg ? `no run folder at ${arg}` : `no runs in ${store} yet (${join(store, 'latest')} does not exist)`,
      {},
      arg ? 'give the path of a run, such as store/NAME/TIMESTAMP' : 'run a test first, or give a run folder',
    );
  }
  // Through store/latest, name the run itself: a later run moves the link.
  return runPaths(realpathSync(resolve(dir)));
}

export function readJson<T>(path: string, what: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new InputError(`cannot read ${what} ${path}`, {}, 'is this a run folder written by undertow test?');
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new InputError(`${what} ${path} is not valid JSON: ${(e as Error).message}`, { file: path });
  }
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}
