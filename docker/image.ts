// The node image, built without any image registry. Two layers of our own:
//
// 1. The base image (`undertow-base:HASH`): a root file system made from this
//    machine's files and loaded with `docker import`: the node binary, every
//    library `ldd` says it (and libfaketime) links, including the loader,
//    libfaketime itself, a minimal /etc/passwd and /etc/group, and /tmp. No
//    shell, no package manager, no iptables: partitions are applied from the
//    host into each container's network namespace.
// 2. The node image (`undertow-node:HASH`): the base plus a system built in
//    this project (its folder of dist/, the reference system's), a
//    package.json that makes it ESM, and the production node_modules it
//    imports at run time, with its program as the entry point.
//
// The system's Dockerfile (ImageSpec.project.dockerfile) builds the same node
// image (same paths, same entry point) from the official Node image where a
// registry is reachable. A system not written here (etcd) gets a base image of
// its own programs alone (`imageOf`).
// `imageFor` uses an existing tag first, then the offline build, then the
// Dockerfile. Tags are content hashes, so nothing is rebuilt unless the
// project (dist, the lock file, the recipe) or the host's binaries changed.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { projectRoot } from '../harness/core/project-root.js';
import { IMAGE_PROJECT, type ImageSpec } from '../harness/core/system.js';
import { InputError } from '../history/input-error.js';

/** Bump when the way the images are put together changes: it is part of every tag. */
const RECIPE = 'undertow-image-v1';

/** Where libfaketime lives inside both variants of the node image. */
export const IMAGE_FAKETIME_LIBRARY = '/usr/lib/faketime/libfaketime.so.1';

const BASE_REPO = 'undertow-base';
const NODE_REPO = 'undertow-node';

const HOST_FAKETIME_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
  '/usr/local/lib/faketime/libfaketime.so.1',
];

export type ImageSource = 'cached' | 'offline' | 'dockerfile';

export interface ImageResult {
  readonly tag: string;
  readonly source: ImageSource;
  readonly ms: number;
}

// --- hashing -------------------------------------------------------------------------

function hashFiles(hash: ReturnType<typeof createHash>, root: string, rel: readonly string[]): void {
  for (const r of [...rel].sort()) {
    hash.update(`${r}\0`);
    hash.update(fs.readFileSync(path.join(root, r)));
    hash.update('\0');
  }
}

function walk(root: string, rel: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) out.push(...walk(root, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

// --- the base image ------------------------------------------------------------------

/** Absolute paths of the shared libraries `binary` loads (ldd), the loader included. */
export async function lddLibraries(binary: string): Promise<string[]> {
  const { stdout, code } = await capture('ldd', [binary]);
  if (code !== 0) throw new Error(`ldd ${binary} failed: ${stdout.trim()}`);
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m !== null) libs.push(m[1]);
  }
  return libs;
}

export interface BaseInputs {
  /** The image's repository. */
  readonly repo: string;
  /** Host programs and where each goes in the image (node becomes /usr/bin/node; others keep their path). */
  readonly programs: readonly { readonly host: string; readonly image: string }[];
  readonly faketime: string;
  /** Every file of the root file system that comes from the host, as absolute paths. */
  readonly files: readonly string[];
}

/**
 * What a base image is made of on this machine: `programs` (default: this
 * Node, as /usr/bin/node), every library they and libfaketime load.
 */
export async function baseInputs(programs?: readonly string[], repo = BASE_REPO): Promise<BaseInputs> {
  const hosts = (programs ?? [process.execPath]).map((p) => {
    if (!fs.existsSync(p)) throw new InputError(`${p} is not installed on this machine, and the image needs it`);
    return fs.realpathSync(p);
  });
  const faketime = HOST_FAKETIME_CANDIDATES.find((p) => fs.existsSync(p));
  if (faketime === undefined) throw new Error('libfaketime is not installed (apt-get install -y faketime)');
  const libs = new Set<string>(await lddLibraries(faketime));
  // A static program (Go's, say) has no libraries: ldd says so and exits 1.
  for (const h of hosts) for (const l of await lddLibraries(h).catch(() => [])) libs.add(l);
  const place = (host: string, given: string) => (programs === undefined ? '/usr/bin/node' : given);
  const programsIn = hosts.map((host, i) => ({ host, image: place(host, (programs ?? [])[i] ?? host) }));
  return { repo, programs: programsIn, faketime, files: [...hosts, ...[...libs].filter((l) => !hosts.includes(l)).sort()] };
}

/** The base image's tag: a hash of the recipe and of every host file that goes into it (and where). */
export function baseTag(inputs: BaseInputs): string {
  const h = createHash('sha256').update(`${RECIPE}\0base\0${inputs.programs.map((p) => `${p.host}>${p.image}`).join('\0')}\0`);
  hashFiles(
    h,
    '/',
    [...inputs.files, inputs.faketime].map((f) => f.slice(1)),
  );
  return `${inputs.repo}:${h.digest('hex').slice(0, 16)}`;
}

/** Builds the base image with `docker import` unless its tag exists. */
export async function ensureBaseImage(docker: Docker, inputs: BaseInputs): Promise<string> {
  const tag = baseTag(inputs);
  if (await imageExists(docker, tag)) return tag;
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-base-'));
  try {
    fs.mkdirSync(path.join(stage, 'etc'));
    fs.writeFileSync(path.join(stage, 'etc', 'passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n');
    fs.writeFileSync(path.join(stage, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    fs.mkdirSync(path.join(stage, 'tmp'));
    fs.chmodSync(path.join(stage, 'tmp'), 0o1777);
    // libfaketime at the same path in both image variants (see the system's Dockerfile).
    fs.mkdirSync(path.join(stage, 'usr', 'lib', 'faketime'), { recursive: true });
    fs.copyFileSync(inputs.faketime, path.join(stage, IMAGE_FAKETIME_LIBRARY));
    // The libraries keep their host paths (the loader looks there); a program goes where the image wants it.
    const programs = inputs.programs.map((p) => p.host);
    const libs = inputs.files.filter((f) => !programs.includes(f)).map((f) => f.slice(1));
    const escape = (x: string) => x.replace(/[.[\]*^$\\|]/g, '\\$&');
    const rename = inputs.programs.filter((p) => p.host !== p.image).map((p) => `--transform=s|^${escape(p.host.slice(1))}$|${p.image.slice(1)}|`);
    // -h: store what symlinks point at (/lib64/ld-linux-x86-64.so.2, /lib -> usr/lib), so the image needs no links.
    const tar = tarStream([...rename, '-h', '-C', stage, 'etc', 'tmp', 'usr', '-C', '/', ...programs.map((p) => p.slice(1)), ...libs]);
    const progress = await docker.importImage(tar.stream, { repo: inputs.repo, tag: tag.split(':')[1] } as object);
    await Promise.all([follow(docker, progress as Readable), tar.done]);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
  if (!(await imageExists(docker, tag))) throw new Error(`docker import finished but ${tag} does not exist`);
  return tag;
}

// --- the node image ------------------------------------------------------------------

/** Bare module names imported by the built files under `dir` (node: builtins excluded). */
export function importedPackages(dir: string): string[] {
  const names = new Set<string>();
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"./][^'"]*)['"]/g;
  for (const f of walk(dir, '.').filter((f) => f.endsWith('.js'))) {
    for (const m of fs.readFileSync(path.join(dir, f), 'utf8').matchAll(re)) {
      const parts = m[1].split('/');
      const name = m[1].startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
      if (m[1].startsWith('node:') || builtinModules.includes(name)) continue;
      names.add(name);
    }
  }
  return [...names].sort();
}

/**
 * The folders (relative to `root`) of `packages` and everything they depend
 * on at run time, resolved the way Node resolves them: node_modules of the
 * requiring package first, then up the tree.
 */
export function runtimeClosure(root: string, packages: readonly string[]): string[] {
  const found = new Set<string>();
  const visit = (name: string, fromDir: string, optional: boolean): void => {
    for (let dir = fromDir; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) {
        const rel = path.relative(root, candidate);
        if (found.has(rel)) return;
        found.add(rel);
        const pkg = JSON.parse(fs.readFileSync(path.join(candidate, 'package.json'), 'utf8')) as {
          dependencies?: Record<string, string>;
          optionalDependencies?: Record<string, string>;
        };
        for (const d of Object.keys(pkg.dependencies ?? {})) visit(d, candidate, false);
        for (const d of Object.keys(pkg.optionalDependencies ?? {})) visit(d, candidate, true);
        return;
      }
      if (dir === root || path.dirname(dir) === dir) break;
    }
    if (!optional) throw new Error(`${name} (needed by ${path.relative(root, fromDir) || 'undertow-node'}) is not in node_modules: run npm ci`);
  };
  for (const p of packages) visit(p, root, false);
  // A nested package is copied with its parent's folder: keep only the top-most paths.
  return [...found].sort().filter((p, _, all) => !all.some((q) => q !== p && p.startsWith(`${q}${path.sep}`)));
}

export interface NodeContext {
  /** Paths relative to the project root that go into the build context. */
  readonly files: readonly string[];
  readonly modules: readonly string[];
  /** The node image's tag (the same for both variants). */
  readonly tag: string;
}

type ProjectImage = NonNullable<ImageSpec['project']>;

/** What goes into the node image, and its tag: a hash of the built system, the lock file and both recipes. */
export function nodeContext(root: string, project: ProjectImage): NodeContext {
  const program = path.join('dist', project.folder, project.entry);
  if (!fs.existsSync(path.join(root, program))) {
    throw new InputError(`${program} does not exist`, {}, 'run npm run build first');
  }
  const built = path.join('dist', project.folder);
  const files = walk(root, built).filter((f) => !f.endsWith('.d.ts'));
  const modules = runtimeClosure(root, importedPackages(path.join(root, built)));
  const h = createHash('sha256').update(`${RECIPE}\0node\0${offlineDockerfile('BASE', project)}\0`);
  hashFiles(h, root, [...files, 'package-lock.json', project.dockerfile]);
  return { files, modules, tag: `${NODE_REPO}:${h.digest('hex').slice(0, 16)}` };
}

/** The Dockerfile of the offline variant: no RUN (the base has no shell), only copies. */
function offlineDockerfile(base: string, project: ProjectImage): string {
  return [
    `FROM ${base}`,
    'COPY package.json /app/package.json',
    'COPY dist /app/dist',
    'COPY node_modules /app/node_modules',
    'ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production',
    'WORKDIR /app',
    `ENTRYPOINT ["node", "${IMAGE_PROJECT}/dist/${project.folder}/${project.entry}"]`,
    '',
  ].join('\n');
}

/** The package.json inside the image: only "type": "module", so that Node loads dist/ as ESM. */
const IMAGE_PACKAGE_JSON = `${JSON.stringify({ name: 'undertow-node-image', private: true, type: 'module' }, null, 2)}\n`;

async function buildNodeImage(docker: Docker, root: string, ctx: NodeContext, dockerfile: { text: string } | { file: string }): Promise<void> {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-ctx-'));
  try {
    fs.writeFileSync(path.join(stage, 'package.json'), IMAGE_PACKAGE_JSON);
    const extra: string[] = [];
    if ('text' in dockerfile) {
      fs.writeFileSync(path.join(stage, 'Dockerfile'), dockerfile.text);
      extra.push('Dockerfile');
    }
    const ctxFiles = [...ctx.files, ...ctx.modules, ...('file' in dockerfile ? [dockerfile.file] : [])];
    const tar = tarStream(['-C', stage, 'package.json', ...extra, '-C', root, ...ctxFiles]);
    const progress = await docker.buildImage(tar.stream, {
      t: ctx.tag,
      dockerfile: 'file' in dockerfile ? dockerfile.file : 'Dockerfile',
      rm: true,
      forcerm: true,
    });
    await Promise.all([follow(docker, progress), tar.done]);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
  if (!(await imageExists(docker, ctx.tag))) throw new Error(`docker build finished but ${ctx.tag} does not exist`);
}

/**
 * The image a system's deployment asks for: this project's node image (the
 * reference system), or an image of the host programs it names (etcd: the
 * etcd binary and what it loads), built with docker import unless its
 * content-hash tag exists.
 */
export async function imageOf(docker: Docker, spec: ImageSpec, opts: Omit<ImageOptions, 'project'> = {}): Promise<ImageResult> {
  if (spec.project !== undefined) return imageFor(docker, { ...opts, project: spec.project });
  const t0 = performance.now();
  const inputs = await baseInputs(spec.binaries, `undertow-${spec.name}`);
  const cached = await imageExists(docker, baseTag(inputs));
  const tag = await ensureBaseImage(docker, inputs);
  return { tag, source: cached ? 'cached' : 'offline', ms: Math.round(performance.now() - t0) };
}

export interface ImageOptions {
  readonly root?: string;
  /** What of the project the image holds (the system's ImageSpec.project). */
  readonly project: ProjectImage;
  /** Skip the offline build (to try the Dockerfile path alone). */
  readonly offline?: boolean;
  /** Allow the Dockerfile build (needs a registry); default true. */
  readonly dockerfile?: boolean;
}

/**
 * The node image's tag: an existing one if the project did not change, else
 * an offline build, else a build from the system's Dockerfile. Throws with both
 * reasons when neither build works.
 */
export async function imageFor(docker: Docker, opts: ImageOptions): Promise<ImageResult> {
  const t0 = performance.now();
  const root = opts.root ?? projectRoot();
  const ctx = nodeContext(root, opts.project);
  const ms = () => Math.round(performance.now() - t0);
  if (await imageExists(docker, ctx.tag)) return { tag: ctx.tag, source: 'cached', ms: ms() };
  const failures: string[] = [];
  if (opts.offline !== false) {
    try {
      const base = await ensureBaseImage(docker, await baseInputs());
      await buildNodeImage(docker, root, ctx, { text: offlineDockerfile(base, opts.project) });
      return { tag: ctx.tag, source: 'offline', ms: ms() };
    } catch (e) {
      failures.push(`offline build: ${(e as Error).message}`);
    }
  }
  if (opts.dockerfile !== false) {
    try {
      await buildNodeImage(docker, root, ctx, { file: opts.project.dockerfile });
      return { tag: ctx.tag, source: 'dockerfile', ms: ms() };
    } catch (e) {
      failures.push(`${opts.project.dockerfile} build: ${(e as Error).message}`);
    }
  }
  throw new Error(`cannot build the node image ${ctx.tag}: ${failures.join('; ')}`);
}

// --- helpers -------------------------------------------------------------------------

export async function imageExists(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return false;
    throw e;
  }
}

/** Waits for an engine progress stream (import, build) to end; an error line in it rejects. */
function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
      if (err) return reject(err);
      const bad = out.find((o) => o.error !== undefined);
      if (bad) return reject(new Error(bad.errorDetail?.message ?? bad.error));
      resolve();
    });
  });
}

/** GNU tar writing an archive to a stream, owned by root whatever the host's owner; `done` rejects if tar fails. */
function tarStream(args: readonly string[]): { stream: Readable; done: Promise<void> } {
  const child = spawn('tar', ['-c', '-f', '-', '--owner=0', '--group=0', '--numeric-owner', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += String(d)));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar failed (${code}): ${err.trim()}`))));
  });
  return { stream: child.stdout, done };
}

function capture(cmd: string, args: readonly string[]): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += String(d)));
    child.stderr.on('data', (d: Buffer) => (out += String(d)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout: out, code: code ?? 1 }));
  });
}
