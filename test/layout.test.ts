// The layering, checked on the sources: every import between the project's
// folders points down. The harness core (contracts, generator, recorder)
// imports nothing above it; adapters, providers, the nemesis and the workloads
// build on the core and never on each other's upper layers; only the
// orchestration and the commands see everything. And nothing outside the
// reference adapter (and bench/, test/) imports the reference system.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

/** Which folders a folder may import from (besides itself). */
const ALLOWED: [string, string[]][] = [
  ['history', []],
  ['checkers', ['history']],
  ['harness/core', ['history', 'checkers']],
  ['system-under-test', []],
  ['adapters', ['harness/core', 'history', 'checkers', 'system-under-test']],
  ['nemesis', ['harness/core', 'history', 'checkers']],
  ['workloads', ['harness/core', 'history', 'checkers']],
  ['docker', ['harness/core', 'history', 'nemesis']],
  ['harness/providers', ['harness/core', 'history', 'nemesis']],
  ['results', ['harness/core', 'history', 'checkers']],
  ['harness/run', ['harness/core', 'harness/providers', 'history', 'checkers', 'adapters', 'nemesis', 'workloads', 'docker', 'results']],
  ['harness/campaign', ['harness/core', 'harness/run', 'history', 'checkers', 'results']],
  ['harness/bench', ['harness/core', 'harness/run', 'harness/providers', 'history', 'checkers', 'adapters', 'workloads', 'results']],
];

const FOLDERS = ['history', 'checkers', 'harness', 'system-under-test', 'adapters', 'nemesis', 'workloads', 'docker', 'results'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, e);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sources(rel));
    else if (rel.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** The layer a project path belongs to: the longest ALLOWED key it is under, else its top folder. */
function layerOf(rel: string): string {
  const keys = ALLOWED.map(([k]) => k).sort((a, b) => b.length - a.length);
  return keys.find((k) => rel === k || rel.startsWith(`${k}/`)) ?? rel.split('/')[0];
}

/** Relative imports (static, re-exports and dynamic) of a file, as project paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s*|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
  return specs.map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)));
}

describe('the layout', () => {
  const files = FOLDERS.flatMap(sources);

  it.each(ALLOWED)('%s imports only from the layers below it', (layer, allowed) => {
    const bad: string[] = [];
    for (const f of files.filter((x) => layerOf(x) === layer)) {
      for (const target of importsOf(f)) {
        const to = layerOf(target);
        if (to !== layer && !allowed.includes(to)) bad.push(`${f} -> ${target}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('nothing outside the reference adapter imports the reference system', () => {
    const bad = files
      .filter((f) => !f.startsWith('system-under-test/') && !f.startsWith('adapters/reference/'))
      .filter((f) => importsOf(f).some((t) => t.startsWith('system-under-test/')));
    expect(bad).toEqual([]);
  });

  it('finds the imports it checks (the check is not vacuous)', () => {
    expect(importsOf('harness/run/run-test.ts')).toContain('harness/core/recorder.js');
    expect(layerOf('harness/core/generator/basic.ts')).toBe('harness/core');
    expect(files.length).toBeGreaterThan(100);
  });
});
