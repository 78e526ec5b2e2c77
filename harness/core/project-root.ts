// Where the project is, from any module of it, run from source (vitest) or from
// dist/ (the built CLI): the nearest folder above that holds undertow's package.json.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** The project's root: the folder above `from` that holds undertow's package.json (source or dist). */
export function projectRoot(from: string = import.meta.dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'undertow') return dir;
    } catch {
      // no package.json here: keep climbing
    }
    if (path.dirname(dir) === dir) throw new Error(`no undertow package.json above ${from}`);
  }
}

/** undertow's version, from its package.json. */
export function undertowVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
