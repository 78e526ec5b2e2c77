// Durable storage of one PacificA replica in a directory:
//
//   replica.log         append-only records (replica-disk-format.ts): a base record
//                       naming the checkpoint it continues, then config, entry,
//                       truncate, commit and deposing records as the replica wrote them.
//   replica.checkpoint  one record: the latest checkpoint, replaced atomically.
//
// write() folds the records into an in-memory image at once (so a bad record
// fails the caller, not a later fsync) and queues their bytes. One flush runs
// at a time: it appends everything queued with one write (group commit), then
// resolves the callers in order. With fsync on, the log is open with O_DSYNC,
// so that one pwritev(2) returns only once the bytes (and the file size) are
// on the disk, as write + fdatasync would: one thread-pool round trip per
// flush instead of two (each round trip is a wake-up of a worker and one of
// the event loop, which on a loaded machine cost more CPU than the write).
//
// Preallocation (fsync on): an append that would grow the file also writes
// PREALLOCATE zero bytes after its records, in the same write. The appends
// after it overwrite those zeros, so their O_DSYNC write need not make a new
// file size durable: on ext4 that saves an inode write (a second synchronous
// I/O) per append, about a third of its CPU and of its latency. A zero tail
// reads as a torn tail (a record of length 0 is invalid) and recovery cuts it
// away like one; close() cuts it too. With fsync off, appends are plain
// synchronous writes to the page cache (nothing to wait for, so no thread-pool
// round trip either).
//
// A failed write or fsync rejects every waiting caller and the disk refuses
// further writes: after a failed fsync nobody knows what is on the platter
// (fail-stop).
//
// A checkpoint record is not appended: the log up to it is fsynced, the
// checkpoint file replaced atomically (with the next generation number), then
// the log replaced atomically by a fresh one holding only what still matters
// (config, deposing, commit, the entries after the checkpoint) whose base
// names that generation. A crash between the two replacements leaves the old
// log with the newer checkpoint (generation one ahead): recovery replays the
// old log and applies the checkpoint to it, which is exactly the state after
// the checkpoint record. The log is also rewritten the same way (without a
// checkpoint) once it holds more than max(checkpointEvery, live) records that
// no longer matter (truncated entries, superseded commits and configs), so it
// stays bounded even when no checkpoint comes (an idle group reconfigured
// again and again, primaries flapping without commits).
//
// Recovery keeps the longest valid prefix of the log and truncates the file
// there: a torn tail is the unacknowledged end of the last flush, and a crash
// leaves a prefix of the records written. Each append marks its last record
// as a sync point, and the next append starts only after that fsync
// returned; so a bad record followed by a sync point that is followed by
// more records means acknowledged data after damage. That is corruption,
// not a torn write, and open() throws DiskCorruptError (as the Raft FileDisk
// does) rather than silently dropping acknowledged writes; the operator
// removes the directory and the replica catches up from its peers as a new
// one. What cannot be told apart from a torn tail (a damaged length field,
// damage in the last append, whose pages may reach the disk in any order in
// a crash) is treated as one; the other replicas of the group still hold
// those writes.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { PersistRecord, ReplicaDiskState } from '../pacifica/types.js';
import { invariant } from '../util/invariant.js';
import { DiskCorruptError, claimedEnd, concat, scanRecords, writeFileAtomic, type SyncFn } from './log-segment.js';
import {
  REC_BASE,
  REC_CHECKPOINT,
  SYNC_POINT,
  applyRecord,
  baseRecord,
  checkpointFile,
  decodeBase,
  decodeCheckpointFile,
  decodeRecord,
  emptyImage,
  encodeRecord,
  imageRecords,
  liveRecords,
  markSyncPoint,
  startImage,
  toDiskState,
  type DiskImage,
} from './replica-disk-format.js';

export { DiskCorruptError };

export const LOG_FILE = 'replica.log';
export const CHECKPOINT_FILE = 'replica.checkpoint';
const DEFAULT_CHECKPOINT_EVERY = 1000;

export interface ReplicaDiskOptions {
  /** fsync appends and replaced files (default true). Off: the OS decides when data reaches the disk. */
  readonly fsync?: boolean;
  /** The replica's checkpoint interval; also how many dead records the log may hold before it is rewritten. */
  readonly checkpointEvery?: number;
  /**
   * For tests: called at every durability point, with the file (or directory) about to be fsynced (also with
   * fsync off, where the fsync is then skipped); throwing fails it like an I/O error.
   */
  readonly onSync?: (file: string) => void;
}

/** What the disk has done since open (for tests and the benchmark). */
export interface ReplicaDiskStats {
  /** write() calls resolved. */
  writes: number;
  /** Appends to the log (one per flush that had records to append). */
  appends: number;
  /** fsync calls, of files and directories. */
  syncs: number;
  /** Checkpoint files written. */
  checkpoints: number;
  /** Log replacements (after a checkpoint or on their own). */
  rewrites: number;
}

/** One unit of I/O planned by write(). */
type Step =
  | { readonly kind: 'append'; readonly records: readonly Uint8Array[] }
  /** Replace the log by `log` (after writing `checkpoint`, if any, as the checkpoint file). */
  | { readonly kind: 'replace'; readonly checkpoint: Uint8Array | null; readonly log: readonly Uint8Array[] };

interface Waiter {
  readonly steps: readonly Step[];
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class ReplicaFileDisk {
  readonly stats: ReplicaDiskStats;
  private readonly queue: Waiter[] = [];
  private flushing = false;
  private failure: unknown = null;
  private closed = false;
  private readonly idle: (() => void)[] = [];
  private readonly sync: SyncFn;

  /** Opens (creating) DIR, recovers (a torn or corrupt tail is discarded and truncated away), and returns the disk; `state` is what was recovered. */
  static async open(dir: string, o: ReplicaDiskOptions = {}): Promise<ReplicaFileDisk> {
    const checkpointEvery = o.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    invariant(Number.isSafeInteger(checkpointEvery) && checkpointEvery >= 1, () => `replica disk: checkpointEvery must be a positive integer, got ${checkpointEvery}`);
    await fsp.mkdir(dir, { recursive: true });
    const stats: ReplicaDiskStats = { writes: 0, appends: 0, syncs: 0, checkpoints: 0, rewrites: 0 };
    const fsync = o.fsync !== false;
    const onSync = o.onSync;
    const sync: SyncFn = async (file, h) => {
      onSync?.(file);
      if (!fsync) return;
      stats.syncs++;
      await h.sync();
    };
    // An O_DSYNC append is a durability point too: the hook runs (and counts) before the write.
    const syncingWrite = (file: string): void => {
      onSync?.(file);
      if (fsync) stats.syncs++;
    };
    // A leftover .tmp is a replacement that never got renamed: it never counted.
    await Promise.all([LOG_FILE, CHECKPOINT_FILE].map((f) => fsp.rm(path.join(dir, `${f}.tmp`), { force: true })));
    const r = await recover(dir, sync);
    const logFlags = fs.constants.O_RDWR | (fsync ? fs.constants.O_DSYNC : 0);
    const disk = new ReplicaFileDisk(dir, r, checkpointEvery, sync, syncingWrite, logFlags, fsync, stats);
    try {
      if (r.rewrite) {
        await disk.replaceLog(imageRecords(r.gen, r.image));
        disk.stats.rewrites++;
      }
      disk.fd ??= await openFd(path.join(dir, LOG_FILE), logFlags);
    } catch (e) {
      await disk.close();
      throw e;
    }
    return disk;
  }

  /** What the disk held when opened. */
  readonly state: ReplicaDiskState;
  /** The log, open for appends (O_DSYNC unless fsync is off). */
  private fd: number | null = null;
  /** Bytes in the log file. */
  private size: number;
  /** Bytes in the log file including a preallocated zero tail (>= size). */
  private allocated: number;
  /** Records in the log file as planned (including queued appends). */
  private logRecords: number;
  /** The state after every accepted write() (ahead of the disk while flushes are pending). */
  private readonly tip: DiskImage;
  private gen: number;

  private constructor(
    private readonly dir: string,
    r: Recovered,
    private readonly checkpointEvery: number,
    sync: SyncFn,
    private readonly syncingWrite: (file: string) => void,
    private readonly logFlags: number,
    /** fsync on: append through the thread pool with O_DSYNC, preallocating; off: write synchronously. */
    private readonly durable: boolean,
    stats: ReplicaDiskStats,
  ) {
    this.sync = sync;
    this.stats = stats;
    this.tip = r.image;
    this.gen = r.gen;
    this.size = r.size;
    this.allocated = r.size;
    this.logRecords = r.records;
    this.state = toDiskState(r.image);
  }

  /** Appends the records in order; resolves once they are durable (see the file comment for group commit and fail-stop). */
  write(records: readonly PersistRecord[]): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error(`replica disk ${this.dir}: write after close`));
    let steps: Step[];
    try {
      steps = this.plan(records);
    } catch (e) {
      // The image may be half-updated: nothing after this can be trusted.
      this.failure = e;
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ steps, resolve, reject });
      // Start on a microtask, so calls made in the same turn share the first flush too.
      if (!this.flushing) {
        this.flushing = true;
        queueMicrotask(() => void this.flushLoop());
      }
    });
  }

  /** Waits for queued writes to finish (successfully or not), then closes the log. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.flushing) await new Promise<void>((r) => this.idle.push(r));
    const fd = this.fd;
    this.fd = null;
    if (fd === null) return;
    try {
      // A clean log ends at its last record (a crash leaves the zero tail, which recovery cuts).
      if (this.allocated > this.size && this.failure === null) await truncateFd(fd, this.size);
    } finally {
      await closeFd(fd);
    }
  }

  // ------------------------------------------------------------- planning

  private plan(records: readonly PersistRecord[]): Step[] {
    const steps: Step[] = [];
    let pending: Uint8Array[] = [];
    for (const r of records) {
      applyRecord(this.tip, r);
      if (r.kind === 'checkpoint') {
        if (pending.length > 0) steps.push({ kind: 'append', records: pending });
        pending = [];
        this.gen++;
        const log = imageRecords(this.gen, this.tip);
        steps.push({ kind: 'replace', checkpoint: checkpointFile(this.gen, r.checkpoint), log });
        this.logRecords = log.length;
      } else {
        pending.push(encodeRecord(r));
        this.logRecords++;
      }
    }
    if (pending.length > 0) steps.push({ kind: 'append', records: pending });
    const live = liveRecords(this.tip);
    if (this.logRecords - live > Math.max(this.checkpointEvery, live)) {
      steps.push({ kind: 'replace', checkpoint: null, log: imageRecords(this.gen, this.tip) });
      this.logRecords = live;
    }
    return steps;
  }

  // ------------------------------------------------------------- flushing

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      if (this.failure !== null) {
        for (const w of batch) w.reject(this.failure);
        continue;
      }
      try {
        await this.perform(batch.flatMap((w) => w.steps));
      } catch (e) {
        this.failure = e;
        for (const w of [...batch, ...this.queue.splice(0)]) w.reject(e);
        break;
      }
      this.stats.writes += batch.length;
      for (const w of batch) w.resolve();
    }
    this.flushing = false;
    for (const r of this.idle.splice(0)) r();
  }

  /** Do the steps of one flush. Appends are gathered into one write + fsync, made before a checkpoint and at the end. */
  private async perform(steps: readonly Step[]): Promise<void> {
    let pending: Uint8Array[] = [];
    for (const s of steps) {
      if (s.kind === 'append') {
        pending.push(...s.records);
        continue;
      }
      if (s.checkpoint !== null) {
        // The old log must hold everything before the checkpoint, in case we crash between the two replacements.
        await this.append(pending);
        await writeFileAtomic(this.dir, CHECKPOINT_FILE, s.checkpoint, this.sync);
        this.stats.checkpoints++;
      }
      // A plain rewrite contains the pending records: they need not be appended first.
      pending = [];
      await this.replaceLog(s.log);
      this.stats.rewrites++;
    }
    await this.append(pending);
  }

  private async append(records: Uint8Array[]): Promise<void> {
    if (records.length === 0) return;
    const fd = this.fd;
    invariant(fd !== null, 'replica disk: append with no open log');
    records[records.length - 1] = markSyncPoint(records[records.length - 1]);
    this.syncingWrite(path.join(this.dir, LOG_FILE));
    let n: number;
    if (!this.durable) {
      n = writevSyncAll(fd, records, this.size);
    } else {
      const bytes = records.reduce((k, r) => k + r.length, 0);
      const grow = this.size + bytes > this.allocated;
      const written = await writevAll(fd, grow ? [...records, ZEROS] : records, this.size);
      if (grow) this.allocated = this.size + written;
      n = bytes;
    }
    this.size += n;
    this.stats.appends++;
  }

  private async replaceLog(records: readonly Uint8Array[]): Promise<void> {
    const bytes = concat([...records.slice(0, -1), markSyncPoint(records[records.length - 1])]);
    await writeFileAtomic(this.dir, LOG_FILE, bytes, this.sync);
    const old = this.fd;
    this.fd = await openFd(path.join(this.dir, LOG_FILE), this.logFlags);
    this.size = bytes.length;
    this.allocated = bytes.length;
    if (old !== null) await closeFd(old);
  }
}

/** Zeros written after an append that grows the log (see the file comment). */
const PREALLOCATE = 256 * 1024;
const ZEROS = new Uint8Array(PREALLOCATE);

// Plain callback fs: one thread-pool job per call, without FileHandle's promise machinery.
function openFd(file: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, flags, (e, fd) => (e === null ? resolve(fd) : reject(e))));
}

function truncateFd(fd: number, len: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, len, (e) => (e === null ? resolve() : reject(e))));
}

function writevSyncAll(fd: number, parts: readonly Uint8Array[], position: number): number {
  const want = parts.reduce((n, p) => n + p.length, 0);
  let done = fs.writevSync(fd, parts as Uint8Array[], position);
  if (done < want) {
    const all = concat(parts);
    while (done < want) {
      const n = fs.writeSync(fd, all, done, want - done, position + done);
      if (n <= 0) throw new Error(`short write at ${position + done}`);
      done += n;
    }
  }
  return done;
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (e) => (e === null ? resolve() : reject(e))));
}

/** pwritev all of `parts` at `position` (a short write is continued, never silently accepted); the bytes written. */
async function writevAll(fd: number, parts: readonly Uint8Array[], position: number): Promise<number> {
  let rest = parts;
  let done = 0;
  for (;;) {
    const want = rest.reduce((n, p) => n + p.length, 0);
    if (want === 0) return done;
    const n = await new Promise<number>((resolve, reject) => fs.writev(fd, rest as Uint8Array[], position + done, (e, written) => (e === null ? resolve(written) : reject(e))));
    if (n <= 0) throw new Error(`short write at ${position + done}`);
    done += n;
    if (n === want) return done;
    // Continue after the bytes that made it.
    const tail = concat(rest).subarray(n);
    rest = [tail];
  }
}

// ------------------------------------------------------------- recovery

interface Recovered {
  readonly image: DiskImage;
  readonly gen: number;
  /** Valid bytes and records of the log file as it is now (after truncating a torn tail). */
  readonly size: number;
  readonly records: number;
  /** The log continues an older checkpoint (interrupted compaction): write a fresh one. */
  readonly rewrite: boolean;
}

async function readIfExists(file: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await fsp.readFile(file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

async function recover(dir: string, sync: SyncFn): Promise<Recovered> {
  const cpPath = path.join(dir, CHECKPOINT_FILE);
  const logPath = path.join(dir, LOG_FILE);
  const cpBytes = await readIfExists(cpPath);
  let cp = { gen: 0, checkpoint: emptyImage().checkpoint };
  if (cpBytes !== null) {
    const s = scanRecords(cpBytes);
    if (s.records.length !== 1 || s.end !== cpBytes.length || (s.records[0].type & ~SYNC_POINT) !== REC_CHECKPOINT) throw new DiskCorruptError(`${cpPath} is corrupt`);
    cp = corruptOnThrow(cpPath, () => decodeCheckpointFile(s.records[0].payload));
  }

  let bytes = await readIfExists(logPath);
  if (bytes === null) {
    if (cpBytes !== null) throw new DiskCorruptError(`${logPath} is missing but ${cpPath} exists`);
    // A fresh directory.
    const log = markSyncPoint(baseRecord({ gen: 0, sn: 0, version: 0 }));
    await writeFileAtomic(dir, LOG_FILE, log, sync);
    bytes = log;
  }

  const { records, end } = scanRecords(bytes);
  if (end < bytes.length) {
    const next = claimedEnd(bytes, end);
    const after = next === null ? [] : scanRecords(bytes.subarray(next)).records;
    // An append ending before another record was fsynced (the next append starts only after that): acknowledged.
    const acked = after.slice(0, -1).filter((r) => (r.type & SYNC_POINT) !== 0).length;
    if (acked > 0) throw new DiskCorruptError(`${logPath}: bad record at byte ${end} followed by ${acked} acknowledged append(s); refusing to drop them (remove ${dir} to let the replica catch up from its peers)`);
  }
  if (records.length === 0 || (records[0].type & ~SYNC_POINT) !== REC_BASE) throw new DiskCorruptError(`${logPath} has no base record`);
  const base = corruptOnThrow(logPath, () => decodeBase(records[0].payload));

  let image: DiskImage;
  let rewrite = false;
  if (base.gen === cp.gen) {
    if (base.sn !== cp.checkpoint.sn || base.version !== cp.checkpoint.version)
      throw new DiskCorruptError(`${logPath} continues checkpoint ${base.sn}@${base.version} but ${cpPath} holds ${cp.checkpoint.sn}@${cp.checkpoint.version}`);
    image = startImage(cp.checkpoint);
  } else if (base.gen + 1 === cp.gen) {
    // Interrupted compaction: the old log, then the checkpoint record that replaced it. The old checkpoint's
    // state is gone, but the fold of the entries, truncates and commits needs only its sn.
    image = startImage({ sn: base.sn, version: base.version, kv: {} });
    rewrite = true;
  } else throw new DiskCorruptError(`${logPath} (generation ${base.gen}) does not belong to ${cpPath} (generation ${cp.gen})`);

  for (const rec of records.slice(1)) corruptOnThrow(`${logPath} at byte ${rec.offset}`, () => applyRecord(image, decodeRecord(rec.type, rec.payload)));
  if (rewrite) applyRecord(image, { kind: 'checkpoint', checkpoint: cp.checkpoint });

  if (end < bytes.length && !rewrite) {
    // Cut the torn tail away so that appends continue from the last good record.
    const h = await fsp.open(logPath, 'r+');
    try {
      await h.truncate(end);
      if (sync !== null) await sync(logPath, h);
    } finally {
      await h.close();
    }
  }
  return { image, gen: cp.gen, size: end, records: records.length, rewrite };
}

function corruptOnThrow<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new DiskCorruptError(`${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
