// Compiles a source file and everything it imports locally into a temporary
// folder, so a test can run it in a child process without depending on a
// possibly stale dist/.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = join(import.meta.dirname, '..', '..');

/** Returns the path of `entry`'s compiled .js under `outDir`. */
export function transpileTree(entry: string, outDir: string): string {
  writeFileSync(join(outDir, 'package.json'), '{"type":"module"}\n');
  const seen = new Set<string>();
  const todo = [resolve(entry)];
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    });
    const out = join(outDir, relative(root, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
    for (const m of source.matchAll(/(?:from|import)\s+'(\.{1,2}\/[^']+)\.js'/g)) todo.push(resolve(dirname(file), `${m[1]}.ts`));
  }
  return join(outDir, relative(root, entry)).replace(/\.ts$/, '.js');
}
