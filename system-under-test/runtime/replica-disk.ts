// Durable storage of a data server's PacificA replicas, in its data directory:
//
//   replicas.log        one append-only log shared by every replica the server
//                       hosts: group records (replica-disk-format.ts) say whose
//                       records follow; each group's records are what a log of its
//                       own would hold (a base record naming the checkpoint it
//                       continues, then config, entry, truncate, commit and deposing
//                       records, as the replica wrote them).
//   GROUP.checkpoint    one record per group: its latest checkpoint, replaced atomically.
//
// Why one log: an fsynced write is the dearest thing a data server does (on this
// project's 2-core VM an O_DSYNC write of a few hundred bytes costs about 65 µs
// of CPU and 150 µs, whatever its size), and under load every replica has
// records to write at nearly every turn. One log turns the writes of all the
// server's replicas during one flush into one write (group commit across groups
// as well as across callers), which cut the data servers' appends by about
// two thirds in the data-plane benchmark.
//
// write() folds a group's records into that group's in-memory image at once (so
// a bad record fails the caller, not a later fsync) and queues their bytes. One
// flush runs at a time, on a microtask after the call: it appends everything
// queued, for every group, with one write, then resolves the callers in order.
// With fsync on, the log is open with O_DSYNC, so that one pwritev(2) returns
// only once the bytes are on the disk, as write + fdatasync would.
//
// The append is synchronous, on the event loop. Through the thread pool each
// append cost a worker's wake-up and then the event loop's (futexes, an
// eventfd, a context switch each), which on a loaded 2-core machine was more
// CPU than the write itself; measured on the data-plane benchmark, cluster CPU
// per operation fell by about a fifth. While the loop waits for the disk
// (about 150 µs here), input queues in the sockets, and the next turn's flush
// takes all of it: the blocking is itself the group commit. (With one log per
// replica the loop blocked three times as often and throughput fell; with one
// log per server it rose.) On a disk whose flush takes milliseconds the loop
// blocks that long per append; the leases (a second by default) leave room.
//
// Preallocation (fsync on): an append that would grow the file also writes
// PREALLOCATE zero bytes after its records, in the same write. The appends
// after it overwrite those zeros, so their O_DSYNC write need not make a new
// file size durable: on ext4 that saves an inode write (a second synchronous
// I/O) per append. A zero tail reads as a torn tail (a record of length 0 is
// invalid) and recovery cuts it away like one; close() cuts it too. With fsync
// off, appends are plain page-cache writes.
//
// A failed write or fsync rejects every waiting caller and the log refuses
// further writes: after a failed fsync nobody knows what is on the platter
// (fail-stop; the server stops).
//
// A checkpoint record is not appended: the log up to it is made durable, the
// group's checkpoint file replaced atomically (with the group's next
// generation number), then a fresh base record naming that generation is
// appended for the group, followed by what of the group still matters (config,
// deposing, commit, the entries after the checkpoint). Recovery takes a
// group's records from its last base record on. A crash between the checkpoint
// file and that base leaves the group's old records with the newer checkpoint
// (generation one ahead): recovery replays them and applies the checkpoint,
// which is exactly the state after the checkpoint record, and rewrites the log.
// The whole log is rewritten (atomically, holding only what matters of every
// group) once it holds more records that no longer matter (superseded base
// streams, truncated entries, old commits and configs) than
// max(checkpointEvery x groups, live): it stays bounded.
//
// Recovery keeps the longest valid prefix of the log up to its last sync point
// and truncates the file there: a torn tail is the unacknowledged end of the
// last flush, and a crash leaves a prefix of the appends made. Only whole
// appends count, also because what must stay together is appended together: a
// group's new base and its image after a checkpoint (keeping the base without
// the entries after it would drop entries its older records hold durably).
// Each append marks its last record as a sync point, and the next append
// starts only after that write returned;
// so a bad record followed by a sync point that is followed by more records
// means acknowledged data after damage. That is corruption, not a torn write,
// and open() throws DiskCorruptError (as the Raft FileDisk does) rather than
// silently dropping acknowledged writes; the operator removes the directory
// and the server's replicas catch up from their peers as new ones. What cannot
// be told apart from a torn tail (a damaged length field, damage in the last
// append, whose pages may reach the disk in any order in a crash) is treated
// as one; the other replicas of each group still hold those writes.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { EMPTY_DISK, type Checkpoint, type PersistRecord, type ReplicaDiskState } from '../pacifica/types.js';
import { invariant } from '../util/invariant.js';
import { DiskCorruptError, concat, writeFileAtomic, type SyncFn } from './log-segment.js';
import {
  GROUP_NAME,
  decodeCheckpointBytes,
  emptyImage,
  groupRecord,
  imageRecords,
  liveRecords,
  markSyncPoint,
  planGroupWrite,
  recoverLog,
  toDiskState,
  type DiskImage,
  type RecoveredLog,
} from './replica-disk-format.js';

export { DiskCorruptError };

export const LOG_FILE = 'replicas.log';
const CHECKPOINT_SUFFIX = '.checkpoint';
export const checkpointFileOf = (group: string): string => `${group}${CHECKPOINT_SUFFIX}`;
const DEFAULT_CHECKPOINT_EVERY = 1000;

export interface ReplicaDiskOptions {
  /** fsync appends and replaced files (default true). Off: the OS decides when data reaches the disk. */
  readonly fsync?: boolean;
  /** The replicas' checkpoint interval; also how many dead records (per group) the log may hold before it is rewritten. */
  readonly checkpointEvery?: number;
  /**
   * For tests: called at every durability point, with the file (or directory) about to be fsynced (also with
   * fsync off, where the fsync is then skipped); throwing fails it like an I/O error.
   */
  readonly onSync?: (file: string) => void;
}

/** What the log has done since open (for tests, the server's stats line and the benchmark). */
export interface ReplicaDiskStats {
  /** write() calls resolved. */
  writes: number;
  /** Appends to the log (one per flush that had records to append). */
  appends: number;
  /** fsync calls, of files and directories (an O_DSYNC append counts as one). */
  syncs: number;
  /** Checkpoint files written. */
  checkpoints: number;
  /** Whole-log rewrites. */
  rewrites: number;
}

/** One replica's view of the log: what DataServer needs of a replica's durable storage. */
export interface ReplicaStore {
  /** What the disk held for this group when the log was opened (empty for a group it never saw). */
  readonly state: ReplicaDiskState;
  /** Appends the records in order; resolves once they are durable. */
  write(records: readonly PersistRecord[]): Promise<void>;
  /** The log's counters (shared by every group). */
  readonly stats: ReplicaDiskStats;
}

/** One unit of I/O planned by write(). */
type Step =
  | { readonly kind: 'append'; readonly group: string; readonly records: readonly Uint8Array[] }
  /** Make the log durable, replace GROUP.checkpoint by `file`, then append `records` (the group's new base stream). */
  | { readonly kind: 'checkpoint'; readonly group: string; readonly file: Uint8Array; readonly records: readonly Uint8Array[] }
  /** Replace the whole log by `log` (group records included). */
  | { readonly kind: 'replace'; readonly log: readonly Uint8Array[]; readonly lastGroup: string | null };

interface Waiter {
  readonly steps: readonly Step[];
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

interface Group {
  readonly name: string;
  /** The state after every accepted write() (ahead of the disk while flushes are pending). */
  readonly tip: DiskImage;
  /** Generation of the group's checkpoint file (bumped by every checkpoint). */
  gen: number;
  /** Records of the group's current base stream in the log, as planned (the base included; 0: none yet). */
  records: number;
  /** What was recovered for it (EMPTY_DISK for a group new to this log). */
  readonly recovered: ReplicaDiskState;
  /** A store was handed out (one per group). */
  taken: boolean;
}

export class ReplicaLog {
  readonly stats: ReplicaDiskStats;
  private readonly queue: Waiter[] = [];
  private flushing = false;
  private failure: unknown = null;
  private closed = false;
  private readonly idle: (() => void)[] = [];
  private readonly groups = new Map<string, Group>();

  /** Opens (creating) DIR, recovers every group in it (a torn tail is discarded and truncated away), and returns the log. */
  static async open(dir: string, o: ReplicaDiskOptions = {}): Promise<ReplicaLog> {
    const checkpointEvery = o.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    invariant(
      Number.isSafeInteger(checkpointEvery) && checkpointEvery >= 1,
      () => `replica disk: checkpointEvery must be a positive integer, got ${checkpointEvery}`,
    );
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
    const r = await recover(dir, sync);
    const logFlags = fs.constants.O_RDWR | (fsync ? fs.constants.O_DSYNC : 0);
    const log = new ReplicaLog(dir, r, checkpointEvery, sync, syncingWrite, logFlags, fsync, stats);
    try {
      if (r.rewrite) await log.perform([log.rewriteStep()]);
      log.fd ??= await openFd(path.join(dir, LOG_FILE), logFlags);
    } catch (e) {
      await log.close();
      throw e;
    }
    return log;
  }

  /** The log, open for appends (O_DSYNC unless fsync is off). */
  private fd: number | null = null;
  /** Bytes in the log file. */
  private size: number;
  /** Bytes in the log file including a preallocated zero tail (>= size). */
  private allocated: number;
  /** Records in the log file as planned (including queued appends; group records not counted). */
  private logRecords: number;
  /** The group whose records an append continues (the last group record in the file, as performed). */
  private fileGroup: string | null;
  private readonly sync: SyncFn;

  private constructor(
    private readonly dir: string,
    r: Recovered,
    private readonly checkpointEvery: number,
    sync: SyncFn,
    private readonly syncingWrite: (file: string) => void,
    private readonly logFlags: number,
    /** fsync on: O_DSYNC appends, preallocating; off: page-cache writes. */
    private readonly durable: boolean,
    stats: ReplicaDiskStats,
  ) {
    this.sync = sync;
    this.stats = stats;
    this.size = r.size;
    this.allocated = r.size;
    this.logRecords = r.records;
    this.fileGroup = r.lastGroup;
    for (const g of r.groups)
      this.groups.set(g.name, { name: g.name, tip: g.image, gen: g.gen, records: g.records, recovered: toDiskState(g.image), taken: false });
  }

  /** Groups the log holds state of (recovered or written since). */
  groupNames(): string[] {
    return [...this.groups.keys()].sort();
  }

  /** The store of one group's replica (once per group): its recovered state, and writes into this log. */
  replica(group: string): ReplicaStore {
    const g = this.groupOf(group);
    invariant(!g.taken, () => `replica disk: the store of ${group} was already taken`);
    g.taken = true;
    return { state: g.recovered, write: (records) => this.write(group, records), stats: this.stats };
  }

  /** The group's state, created (empty) the first time; its name becomes a file name, so it is checked then. */
  private groupOf(group: string): Group {
    let g = this.groups.get(group);
    if (g === undefined) {
      invariant(GROUP_NAME.test(group), () => `replica disk: bad group name ${JSON.stringify(group)}`);
      g = { name: group, tip: emptyImage(), gen: 0, records: 0, recovered: EMPTY_DISK, taken: false };
      this.groups.set(group, g);
    }
    return g;
  }

  /** Appends a group's records in order; resolves once they are durable (see the file comment for group commit and fail-stop). */
  write(group: string, records: readonly PersistRecord[]): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error(`replica disk ${this.dir}: write after close`));
    let steps: Step[];
    try {
      steps = this.plan(this.groupOf(group), records);
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

  private plan(g: Group, records: readonly PersistRecord[]): Step[] {
    const planned = planGroupWrite(g, records);
    this.logRecords += planned.appended;
    const steps: Step[] = planned.steps.map((x) => ({ ...x, group: g.name }));
    let live = 0;
    for (const x of this.groups.values()) if (x.records > 0) live += liveRecords(x.tip);
    if (this.logRecords - live > Math.max(this.checkpointEvery * this.groups.size, live)) steps.push(this.rewriteStep());
    return steps;
  }

  /** Plan a rewrite: a fresh log holding what matters of every group (its image from its base), group by group. */
  private rewriteStep(): Step {
    const log: Uint8Array[] = [];
    let lastGroup: string | null = null;
    this.logRecords = 0;
    for (const name of this.groupNames()) {
      const g = this.groups.get(name)!;
      if (g.records === 0) continue; // nothing of it in the log yet
      const image = imageRecords(g.gen, g.tip);
      log.push(groupRecord(name), ...image);
      g.records = image.length;
      this.logRecords += image.length;
      lastGroup = name;
    }
    return { kind: 'replace', log, lastGroup };
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

  /** Do the steps of one flush. Appends (of every group) are gathered into one write, made before a checkpoint file and at the end. */
  private async perform(steps: readonly Step[]): Promise<void> {
    let pending: Uint8Array[] = [];
    let group = this.fileGroup;
    const add = (g: string, records: readonly Uint8Array[]): void => {
      if (records.length === 0) return;
      if (g !== group) pending.push(groupRecord(g));
      group = g;
      for (const r of records) pending.push(r);
    };
    for (const s of steps) {
      if (s.kind === 'append') {
        add(s.group, s.records);
      } else if (s.kind === 'checkpoint') {
        // The log must hold everything before the checkpoint, in case we crash before the new base is durable.
        this.append(pending, group);
        pending = [];
        await writeFileAtomic(this.dir, checkpointFileOf(s.group), s.file, this.sync);
        this.stats.checkpoints++;
        add(s.group, s.records);
      } else {
        // The rewrite holds the pending records: they need not be appended first.
        pending = [];
        await this.replaceLog(s.log, s.lastGroup);
        group = s.lastGroup;
        this.stats.rewrites++;
      }
    }
    this.append(pending, group);
  }

  private append(records: Uint8Array[], lastGroup: string | null): void {
    if (records.length === 0) return;
    const fd = this.fd;
    invariant(fd !== null, 'replica disk: append with no open log');
    records[records.length - 1] = markSyncPoint(records[records.length - 1]);
    this.syncingWrite(path.join(this.dir, LOG_FILE));
    // On the event loop, synchronously (see the file comment); with fsync on, a write that grows the file
    // preallocates.
    const bytes = records.reduce((k, r) => k + r.length, 0);
    const grow = this.durable && this.size + bytes > this.allocated;
    const written = writevSyncAll(fd, grow ? [...records, ZEROS] : records, this.size);
    if (grow) this.allocated = this.size + written;
    this.size += bytes;
    this.fileGroup = lastGroup;
    this.stats.appends++;
  }

  private async replaceLog(records: readonly Uint8Array[], lastGroup: string | null): Promise<void> {
    const bytes = records.length === 0 ? new Uint8Array(0) : concat([...records.slice(0, -1), markSyncPoint(records[records.length - 1])]);
    await writeFileAtomic(this.dir, LOG_FILE, bytes, this.sync);
    const old = this.fd;
    this.fd = await openFd(path.join(this.dir, LOG_FILE), this.logFlags);
    this.size = bytes.length;
    this.allocated = bytes.length;
    this.fileGroup = lastGroup;
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

// ------------------------------------------------------------- recovery

type Recovered = RecoveredLog;

async function readIfExists(file: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await fsp.readFile(file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

async function recover(dir: string, sync: SyncFn): Promise<Recovered> {
  const names = await fsp.readdir(dir, { withFileTypes: true });
  // A leftover .tmp is a replacement that never got renamed: it never counted.
  await Promise.all(names.filter((e) => e.name.endsWith('.tmp')).map((e) => fsp.rm(path.join(dir, e.name), { force: true })));
  for (const e of names) {
    if (e.isDirectory() && fs.existsSync(path.join(dir, e.name, 'replica.log')))
      throw new DiskCorruptError(
        `${dir} holds replica logs in the old layout (${e.name}/replica.log, one log per replica); remove ${dir} to let the replicas catch up from their peers`,
      );
  }
  const checkpoints = new Map<string, { gen: number; checkpoint: Checkpoint }>();
  for (const e of names) {
    if (!e.isFile() || !e.name.endsWith(CHECKPOINT_SUFFIX)) continue;
    const group = e.name.slice(0, -CHECKPOINT_SUFFIX.length);
    const file = path.join(dir, e.name);
    if (!GROUP_NAME.test(group)) throw new DiskCorruptError(`${file}: not a checkpoint of a group this log can hold`);
    checkpoints.set(group, decodeCheckpointBytes((await readIfExists(file))!, file));
  }

  const logPath = path.join(dir, LOG_FILE);
  let bytes = await readIfExists(logPath);
  if (bytes === null) {
    if (checkpoints.size > 0)
      throw new DiskCorruptError(`${logPath} is missing but ${dir} holds checkpoints (${[...checkpoints.keys()].map(checkpointFileOf).join(', ')})`);
    // A fresh directory: an empty log (written atomically, so that a log exists from here on).
    bytes = new Uint8Array(0);
    await writeFileAtomic(dir, LOG_FILE, bytes, sync);
  }

  const r = recoverLog(bytes, checkpoints, { log: logPath, dir, checkpoint: (name) => path.join(dir, checkpointFileOf(name)) });
  const keptEnd = r.size;
  if (keptEnd < bytes.length) {
    // Cut the torn tail away so that appends continue from the last whole append.
    const h = await fsp.open(logPath, 'r+');
    try {
      await h.truncate(keptEnd);
      if (sync !== null) await sync(logPath, h);
    } finally {
      await h.close();
    }
  }
  return r;
}
