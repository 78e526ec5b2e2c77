// What the results browser knows about each run in a store: one summary per
// store/NAME/TIMESTAMP/ folder that holds a test.json. Every field of
// test.json is optional here: old runs, runs still in progress and runs
// written by hand must all list, never break the page.

import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import type { Verdict } from '../checkers/result.js';
import { runPaths } from './store.js';

/** A checked run's verdict, or why there is none. */
export type RunStatus = Verdict | 'running' | 'no results';

export const RUN_STATUSES: readonly RunStatus[] = ['valid', 'invalid', 'unknown', 'running', 'no results'];

export interface RunSummary {
  /** NAME/TIMESTAMP: the run's folder relative to the store, with `/`. */
  path: string;
  name: string;
  /** The folder's TIMESTAMP part. */
  folder: string;
  /** ISO time the run started: test.json's startedAt, else the folder's timestamp. */
  startedAt: string | null;
  endedAt: string | null;
  verdict: RunStatus;
  /** Each checker's verdict, from results.json. */
  checkers: Record<string, string>;
  workload: string | null;
  faults: string[];
  /** Seconds: endedAt - startedAt, else the history's last op time. */
  durationS: number | null;
  seed: number | string | null;
  provider: string | null;
  concurrency: number | null;
  bugs: string[];
  /** The run was stopped early (Ctrl-C): its history is shorter than asked for. */
  interrupted: boolean;
  /** What went wrong in the run itself, as test.json records it. */
  failure: string | null;
  /** What went wrong reading the run's files, if anything. */
  problem: string | null;
  /** URLs on the results browser. */
  report: string | null;
  files: string;
}

export interface ListOptions {
  /** ms since the epoch: a run without results modified this recently counts as running. */
  now?: number;
  /** Summaries of checked runs from earlier listings (see RunCache); filled and pruned by listRuns. */
  cache?: RunCache;
}

/**
 * A checked run's summary depends only on its files, so it is kept (by the
 * run's folder) while they are unchanged: a store of thousands of runs is then
 * listed from stat() calls, not by parsing every results.json again on each
 * request. Runs without results.json are never kept (their status moves with
 * the clock).
 */
export type RunCache = Map<string, { readonly stamp: string; readonly summary: RunSummary }>;

/**
 * A run without results.json and without endedAt whose files changed in the
 * last RUNNING_WINDOW_MS is taken to be in progress; an older one most likely
 * crashed. A window rather than a pid check: the store may come from another
 * machine, where pids mean nothing.
 */
export const RUNNING_WINDOW_MS = 5 * 60_000;

/** Every run in the store, newest first. A store that does not exist lists nothing. */
export function listRuns(store: string, opts: ListOptions = {}): RunSummary[] {
  const runs: RunSummary[] = [];
  const seen = new Set<string>();
  for (const name of subdirs(store)) {
    for (const folder of subdirs(join(store, name))) {
      const dir = join(store, name, folder);
      if (!isFile(runPaths(dir).test)) continue;
      runs.push(opts.cache === undefined ? summarizeRun(dir, `${name}/${folder}`, opts) : cachedSummary(opts.cache, dir, `${name}/${folder}`, opts));
      seen.add(dir);
    }
  }
  // Forget runs that are gone.
  if (opts.cache !== undefined) for (const dir of opts.cache.keys()) if (!seen.has(dir)) opts.cache.delete(dir);
  const key = (r: RunSummary) => r.startedAt ?? '';
  return runs.sort((a, b) => (key(a) === key(b) ? (a.path < b.path ? 1 : -1) : key(a) < key(b) ? 1 : -1));
}

/** Real directories only: store/latest (a symlink) would list its run twice. */
function subdirs(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** A checked run's summary from the cache while its files are unchanged; anything else summarized afresh. */
function cachedSummary(cache: RunCache, dir: string, path: string, opts: ListOptions): RunSummary {
  const stamp = checkedStamp(dir);
  const hit = cache.get(dir);
  if (stamp !== null && hit?.stamp === stamp) return hit.summary;
  const summary = summarizeRun(dir, path, opts);
  if (stamp === null) cache.delete(dir);
  else cache.set(dir, { stamp, summary });
  return summary;
}

/** What a checked run's summary is made of (sizes and times of its files), or null if it has no results.json. */
function checkedStamp(dir: string): string | null {
  const paths = runPaths(dir);
  const part = (p: string): string => {
    try {
      const st = statSync(p);
      return `${st.size}@${st.mtimeMs}`;
    } catch {
      return '-';
    }
  };
  const results = part(paths.results);
  return results === '-' ? null : [results, part(paths.test), part(paths.report), part(paths.history)].join(' ');
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function summarizeRun(dir: string, path: string, opts: ListOptions = {}): RunSummary {
  const paths = runPaths(dir);
  const [name, folder] = path.split('/');
  const problems: string[] = [];
  const test = readObject(paths.test, 'test.json', problems) ?? {};
  const str = (k: string) => (typeof test[k] === 'string' && test[k] !== '' ? (test[k] as string) : null);
  const num = (k: string) => (typeof test[k] === 'number' && Number.isFinite(test[k]) ? (test[k] as number) : null);

  const startedAt = isoOrNull(str('startedAt')) ?? folderTime(folder);
  const endedAt = isoOrNull(str('endedAt'));

  let verdict: RunStatus;
  const checkers: Record<string, string> = {};
  if (isFile(paths.results)) {
    const results = readObject(paths.results, 'results.json', problems);
    const v = results?.verdict;
    verdict = v === 'valid' || v === 'invalid' || v === 'unknown' ? v : 'no results';
    if (results && v !== undefined && verdict === 'no results') problems.push(`results.json has no verdict`);
    const per = results?.results;
    if (per && typeof per === 'object') {
      for (const [k, r] of Object.entries(per as Record<string, unknown>)) {
        const cv = (r as { verdict?: unknown } | null)?.verdict;
        checkers[k] = typeof cv === 'string' ? cv : '?';
      }
    }
  } else {
    const now = opts.now ?? Date.now();
    verdict = endedAt === null && now - lastChange(paths) <= RUNNING_WINDOW_MS ? 'running' : 'no results';
  }

  let durationS: number | null = null;
  if (startedAt !== null && endedAt !== null && str('startedAt') !== null) {
    durationS = (Date.parse(endedAt) - Date.parse(startedAt)) / 1000;
  }
  if (durationS === null || !(durationS >= 0)) {
    const lastNs = lastOpTime(paths.history);
    durationS = lastNs === null ? null : lastNs / 1e9;
  }

  const seed = test.seed;
  const enc = `${encodeURIComponent(name)}/${encodeURIComponent(folder)}`;
  return {
    path,
    name: str('name') ?? name,
    folder,
    startedAt,
    endedAt,
    verdict,
    checkers,
    workload: str('workload'),
    faults: stringList(test.nemesis),
    durationS,
    seed: typeof seed === 'number' || typeof seed === 'string' ? seed : null,
    provider: str('provider'),
    concurrency: num('concurrency'),
    bugs: stringList(test.bugs),
    interrupted: test.interrupted === true,
    failure: str('failure'),
    problem: problems.length ? problems.join('; ') : null,
    report: isFile(paths.report) ? `/store/${enc}/report.html` : null,
    files: `/store/${enc}/`,
  };
}

function readObject(path: string, what: string, problems: string[]): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    problems.push(`${what} is not a JSON object`);
  } catch (e) {
    problems.push(e instanceof SyntaxError ? `${what} is not valid JSON` : `cannot read ${what}`);
  }
  return null;
}

/** The nemesis as written: a list of names, or one comma-separated string (older runs). */
function stringList(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x !== '');
  if (typeof v === 'string')
    return v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s !== 'none');
  return [];
}

function isoOrNull(s: string | null): string | null {
  if (s === null) return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
}

/** The store's folder names (20261123T171728.123Z, with -N when runs started in the same millisecond) as ISO times. */
export function folderTime(folder: string | undefined): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d{1,3})?Z(?:-\d+)?$/.exec(folder ?? '');
  if (!m) return null;
  return isoOrNull(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}Z`);
}

function lastChange(paths: ReturnType<typeof runPaths>): number {
  let latest = 0;
  for (const p of [paths.test, paths.history, paths.harnessLog, paths.nemesis]) {
    try {
      latest = Math.max(latest, statSync(p).mtimeMs);
    } catch {
      // not written (yet)
    }
  }
  return latest;
}

const TAIL_BYTES = 64 * 1024;

/**
 * The `time` (ns) of the history's last complete line. Reads only the file's
 * tail: histories run to millions of lines, and a run in progress may end in
 * a half-written one.
 */
export function lastOpTime(file: string): number | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = statSync(file).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    const got = readSync(fd, buf, 0, buf.length, start);
    const lines = buf.subarray(0, got).toString('utf8').split('\n');
    for (let i = lines.length - 1; i >= (start > 0 ? 1 : 0); i--) {
      const line = lines[i].trim();
      if (line === '') continue;
      try {
        const t = (JSON.parse(line) as { time?: unknown }).time;
        if (typeof t === 'number' && Number.isFinite(t) && t >= 0) return t;
      } catch {
        // a torn last line: try the one before
      }
    }
    return null;
  } finally {
    closeSync(fd);
  }
}
