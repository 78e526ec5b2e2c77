// Power failures: a node's process killed, and every write it had not made
// durable dropped, before it restarts. The node runs under an LD_PRELOAD shim
// (nemesis/power/unsynced.c, built here with the machine's C compiler on
// first use and cached by the hash of its source) that journals the old bytes
// of every unsynced write to a file under its data folder; `rollBack` applies
// those journals to the dead node's files, which leaves each file at its last
// durable state: what was fsynced, fdatasynced or written through O_SYNC /
// O_DSYNC is kept, nothing else. The system does not cooperate: it makes its
// ordinary system calls. See docs/power-faults.md for what is and is not covered.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../harness/core/project-root.js';

const run = promisify(execFile);

/** The shim's name in a node's power folder (the providers copy it there: a node of its own user, or a container, loads it from there). */
export const SHIM_FILE = 'unsynced.so';

/** The shim's C source, in the project (also when run from dist/). */
export function powerShimSource(root: string = projectRoot()): string {
  return path.join(root, 'nemesis', 'power', 'unsynced.c');
}

/** The C compiler the shim is built with: $CC, else cc, else gcc (null when none runs). */
export async function cCompiler(): Promise<string | null> {
  for (const cc of [process.env.CC, 'cc', 'gcc'].filter((c): c is string => c !== undefined && c !== '')) {
    try {
      await run(cc, ['--version']);
      return cc;
    } catch {
      /* try the next one */
    }
  }
  return null;
}

/** Where built shims are kept: $UNDERTOW_CACHE, else $XDG_CACHE_HOME/undertow, else ~/.cache/undertow (the temp dir if there is no home). */
export function cacheDir(): string {
  if (process.env.UNDERTOW_CACHE) return process.env.UNDERTOW_CACHE;
  if (process.env.XDG_CACHE_HOME) return path.join(process.env.XDG_CACHE_HOME, 'undertow');
  const home = homedir();
  return home !== '' && fs.existsSync(home) ? path.join(home, '.cache', 'undertow') : path.join(tmpdir(), 'undertow-cache');
}

let built: Promise<string> | undefined;

/**
 * The shim's shared library, built with the machine's compiler unless a
 * build of the same source (and compiler) is in the cache. Builds into a
 * temp name and renames, so that runs side by side never load half a file.
 */
export function powerShim(): Promise<string> {
  built ??= (async () => {
    const cc = await cCompiler();
    if (cc === null) throw new Error('power faults need a C compiler to build their shim: apt-get install -y gcc libc6-dev');
    const source = powerShimSource();
    const { stdout: version } = await run(cc, ['--version']);
    const hash = createHash('sha256').update(fs.readFileSync(source)).update(version).digest('hex').slice(0, 16);
    const lib = path.join(cacheDir(), `unsynced-${hash}.so`);
    if (fs.existsSync(lib)) return lib;
    fs.mkdirSync(path.dirname(lib), { recursive: true });
    const tmp = `${lib}.${process.pid}.tmp`;
    try {
      await run(cc, ['-O2', '-Wall', '-shared', '-fPIC', '-o', tmp, source, '-ldl', '-lpthread']);
      fs.renameSync(tmp, lib);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      const err = e as { stderr?: string; message: string };
      throw new Error(`building the power shim with ${cc} failed: ${(err.stderr ?? err.message).trim().split('\n').slice(0, 3).join(' ')}`);
    }
    return lib;
  })();
  built.catch(() => (built = undefined));
  return built;
}

/**
 * The environment of a process whose unsynced writes under `root` are
 * journaled in `journalDir` (both as the process sees them). Keeps an
 * LD_PRELOAD already in `env` (libfaketime): both libraries are loaded.
 * io_uring is turned off in libuv (Node), whose ring would write past the shim.
 */
export function powerEnv(o: { library: string; journalDir: string; root: string; preload?: string }): Record<string, string> {
  return {
    LD_PRELOAD: o.preload ? `${o.library}:${o.preload}` : o.library,
    UNDERTOW_POWER_DIR: o.journalDir,
    UNDERTOW_POWER_ROOT: o.root,
    UV_USE_IO_URING: '0',
  };
}

// --- rolling back -------------------------------------------------------------------

const MAGIC = 0x554e4431;
const HEADER = 64;
const R_UNDO = 1;
const R_REDO = 2;
const R_SYNC = 3;
const R_SYNCALL = 4;

interface JournalRecord {
  readonly journal: string;
  readonly type: number;
  readonly seq: bigint;
  readonly ts: bigint;
  readonly inode: string;
  readonly off: bigint;
  readonly oldsize: bigint;
  readonly path: string;
  readonly data: Buffer;
}

/** The whole records of one journal (a record cut short by the kill is left out: its write had not begun). */
export function readJournal(file: string): JournalRecord[] {
  const buf = fs.readFileSync(file);
  const out: JournalRecord[] = [];
  for (let at = 0; at + HEADER <= buf.length; ) {
    if (buf.readUInt32LE(at) !== MAGIC) throw new Error(`${file}: no record at byte ${at}: the journal is damaged`);
    const pathlen = buf.readUInt32LE(at + 56);
    const len = buf.readUInt32LE(at + 60);
    const end = at + HEADER + pathlen + len;
    if (end > buf.length) break;
    out.push({
      journal: file,
      type: buf.readUInt32LE(at + 4),
      seq: buf.readBigUInt64LE(at + 8),
      ts: buf.readBigUInt64LE(at + 16),
      inode: `${buf.readBigUInt64LE(at + 24)}:${buf.readBigUInt64LE(at + 32)}`,
      off: buf.readBigInt64LE(at + 40),
      oldsize: buf.readBigInt64LE(at + 48),
      path: buf.subarray(at + HEADER, at + HEADER + pathlen).toString('utf8'),
      data: buf.subarray(at + HEADER + pathlen, end),
    });
    at = end;
  }
  return out;
}

export interface RollBack {
  /** Files put back to their last durable state. */
  files: string[];
  /** Unsynced bytes written or cut that were undone (the sum of the undone calls' ranges and size changes). */
  undone: number;
  /** Durable (O_DSYNC) writes put back after the undos. */
  redone: number;
  /** Files with records that no longer exist (unlinked since): nothing to roll back. */
  gone: number;
}

/**
 * Puts every file the journals in `journalDir` name back to its last durable
 * state, then removes the journals. The process that wrote them must be dead.
 * `toHost` maps a path as the process saw it to this machine's (a container's
 * bind mount); a file renamed since is found by its inode under `searchRoot`.
 */
export function rollBack(journalDir: string, searchRoot: string, toHost: (p: string) => string = (p) => p): RollBack {
  const result: RollBack = { files: [], undone: 0, redone: 0, gone: 0 };
  if (!fs.existsSync(journalDir)) return result;
  const journals = fs
    .readdirSync(journalDir)
    .filter((f) => /^undo-\d+\.log$/.test(f))
    .map((f) => path.join(journalDir, f));
  const records = journals.flatMap(readJournal);
  // A sync covers the records of its file (every file: SYNCALL, inode '*') made before it began: in its own
  // process by sequence number (off holds it), in another by the monotonic clock (oldsize holds it).
  // Only the latest sync of each kind matters, so they are folded into maxima first.
  const maxSeq = new Map<string, bigint>();
  const maxTs = new Map<string, Map<string, bigint>>();
  const raise = <K>(m: Map<K, bigint>, k: K, v: bigint) => {
    const had = m.get(k);
    if (had === undefined || v > had) m.set(k, v);
  };
  for (const r of records) {
    if (r.type !== R_SYNC && r.type !== R_SYNCALL) continue;
    const inode = r.type === R_SYNCALL ? '*' : r.inode;
    raise(maxSeq, `${r.journal}\0${inode}`, BigInt(r.off));
    if (!maxTs.has(r.journal)) maxTs.set(r.journal, new Map());
    raise(maxTs.get(r.journal)!, inode, BigInt(r.oldsize));
  }
  const covered = (r: JournalRecord): boolean => {
    for (const inode of [r.inode, '*']) {
      const seq = maxSeq.get(`${r.journal}\0${inode}`);
      if (seq !== undefined && r.seq < seq) return true;
    }
    for (const [journal, ts] of maxTs) {
      if (journal === r.journal) continue;
      for (const inode of [r.inode, '*']) {
        const t = ts.get(inode);
        if (t !== undefined && r.ts < t) return true;
      }
    }
    return false;
  };
  const live = records.filter((r) => (r.type === R_UNDO || r.type === R_REDO) && !covered(r));
  live.sort((a, b) => (a.ts !== b.ts ? (a.ts < b.ts ? -1 : 1) : a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));

  const byInode = new Map<string, JournalRecord[]>();
  for (const r of live) {
    const list = byInode.get(r.inode);
    if (list === undefined) byInode.set(r.inode, [r]);
    else list.push(r);
  }
  let inodes: Map<string, string> | undefined;
  const find = (r: JournalRecord): string | null => {
    const hinted = toHost(r.path);
    const at = (p: string) => {
      try {
        const st = fs.statSync(p, { bigint: true });
        return `${st.dev}:${st.ino}` === r.inode || (st.isFile() && `${st.ino}` === r.inode.split(':')[1]);
      } catch {
        return false;
      }
    };
    if (at(hinted)) return hinted;
    inodes ??= inodesUnder(searchRoot);
    return inodes.get(r.inode.split(':')[1]) ?? null;
  };
  for (const recs of byInode.values()) {
    const file = find(recs[0]);
    if (file === null) {
      result.gone++;
      continue;
    }
    const fd = fs.openSync(file, 'r+');
    try {
      // Newest first: each undo puts the file back to its state before that call.
      for (const r of [...recs].reverse()) {
        if (r.type !== R_UNDO) continue;
        const size = fs.fstatSync(fd).size;
        result.undone += Math.abs(size - Number(r.oldsize)) + r.data.length;
        fs.ftruncateSync(fd, Number(r.oldsize));
        if (r.data.length > 0) fs.writeSync(fd, r.data, 0, r.data.length, Number(r.off));
      }
      // Then the durable writes made while the file had undone ones, oldest first.
      for (const r of recs) {
        if (r.type !== R_REDO) continue;
        fs.writeSync(fd, r.data, 0, r.data.length, Number(r.off));
        result.redone++;
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    result.files.push(path.relative(searchRoot, file) || file);
  }
  for (const j of journals) fs.rmSync(j, { force: true });
  result.files.sort();
  return result;
}

/**
 * Removes a node's journals without applying them: its data folder was emptied (a node started
 * afresh), so their records name files that no longer exist, whose inode numbers new files may get.
 */
export function forgetJournals(journalDir: string): void {
  if (!fs.existsSync(journalDir)) return;
  for (const f of fs.readdirSync(journalDir)) if (/^undo-\d+\.log$/.test(f)) fs.rmSync(path.join(journalDir, f), { force: true });
}

/** inode -> path of every regular file under dir. */
function inodesUnder(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(`${fs.statSync(p, { bigint: true }).ino}`, p);
    }
  };
  walk(dir);
  return out;
}
