// The parts of the Docker provider that need no engine: which modules go
// into the node image, which libraries into the base, whose run is dead, and
// where a container's CPU counter is.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DETACHED, ownerAlive, ownerToken } from '../../docker/engine.js';
import { importedPackages, lddLibraries, runtimeClosure } from '../../docker/image.js';
import { containerCpuSeconds } from '../../docker/provider.js';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-image-parts-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function write(root: string, rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

function pkg(root: string, dir: string, deps: Record<string, string> = {}, optional: Record<string, string> = {}): void {
  write(root, path.join(dir, 'package.json'), JSON.stringify({ name: path.basename(dir), dependencies: deps, optionalDependencies: optional }));
}

describe('importedPackages', () => {
  it('lists the bare packages the built files import, without builtins or relative paths', () => {
    const dir = tmp();
    write(dir, 'a.js', `import pino from 'pino';\nimport * as fs from 'node:fs';\nimport path from "path";\nimport { x } from './local.js';\n`);
    write(dir, 'sub/b.js', `export { y } from '@scope/pkg/deep/file.js';\nconst m = await import('lazy');\nimport 'side-effect';\n`);
    write(dir, 'sub/c.d.ts', `import { T } from 'types-only';\n`);
    expect(importedPackages(dir)).toEqual(['@scope/pkg', 'lazy', 'pino', 'side-effect']);
  });
});

describe('runtimeClosure', () => {
  it('follows dependencies the way Node resolves them, nested copies included once', () => {
    const root = tmp();
    pkg(root, 'node_modules/a', { b: '1', c: '1' });
    pkg(root, 'node_modules/b', { a: '1' }); // a cycle
    pkg(root, 'node_modules/a/node_modules/c', {}, { 'not-installed': '1' });
    pkg(root, 'node_modules/c'); // shadowed for a by its nested copy
    pkg(root, 'node_modules/unused');
    expect(runtimeClosure(root, ['a'])).toEqual([path.join('node_modules', 'a'), path.join('node_modules', 'b')]);
    expect(runtimeClosure(root, ['a', 'c'])).toEqual([path.join('node_modules', 'a'), path.join('node_modules', 'b'), path.join('node_modules', 'c')]);
  });

  it('fails on a required dependency that is not installed, naming it', () => {
    const root = tmp();
    pkg(root, 'node_modules/a', { gone: '1' });
    expect(() => runtimeClosure(root, ['a'])).toThrow(/gone \(needed by node_modules\/a\) is not in node_modules/);
  });
});

describe('lddLibraries', () => {
  it('lists the loader and libc of the node binary as absolute paths', async () => {
    const libs = await lddLibraries(fs.realpathSync(process.execPath));
    expect(libs.every((l) => path.isAbsolute(l) && fs.existsSync(l))).toBe(true);
    expect(libs.some((l) => /ld-linux.*\.so/.test(l))).toBe(true);
    expect(libs.some((l) => /libc\.so/.test(l))).toBe(true);
  });
});

describe('ownerAlive', () => {
  it('is true for this process, false once the owner exited, true for detached clusters and unreadable labels', () => {
    expect(ownerAlive(ownerToken())).toBe(true);
    const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    expect(ownerAlive(`${child.stdout.trim()}:12345`)).toBe(false);
    // The same pid with another start time is another process: its run is dead.
    const [pid, ticks] = ownerToken().split(':');
    expect(ownerAlive(`${pid}:${Number(ticks) + 1}`)).toBe(false);
    expect(ownerAlive(DETACHED)).toBe(true);
    expect(ownerAlive('not a token')).toBe(true);
    expect(ownerAlive(undefined)).toBe(true);
  });
});

describe('containerCpuSeconds', () => {
  it("reads a container's cgroup CPU counter under cgroup v1 (cpuacct, ns) and v2 (cpu.stat, µs), NaN when it has none", () => {
    const root = tmp();
    fs.mkdirSync(path.join(root, 'cpuacct/docker/aaa'), { recursive: true });
    fs.writeFileSync(path.join(root, 'cpuacct/docker/aaa/cpuacct.usage'), '2500000000\n');
    fs.mkdirSync(path.join(root, 'system.slice/docker-bbb.scope'), { recursive: true });
    fs.writeFileSync(path.join(root, 'system.slice/docker-bbb.scope/cpu.stat'), 'usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n');
    expect(containerCpuSeconds('aaa', root)).toBe(2.5);
    expect(containerCpuSeconds('bbb', root)).toBe(1.5);
    expect(containerCpuSeconds('ccc', root)).toBeNaN();
  });
});
