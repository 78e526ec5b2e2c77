// A simulated data server's storage of one replica, as bytes: its log (a
// group record, then the group's records framed, encoded and marked with sync
// points exactly as runtime/replica-disk.ts's ReplicaLog appends them) and its
// checkpoint file. A write is planned by the data server's own planning
// (planGroupWrite) when the replica hands it over, and reaches the "platter"
// (apply) when the simulated write completes; a restart recovers with
// recoverLog, the code a real data server's restart runs. So a crash that
// tears a write is recovered as a real one would be: the torn append is cut
// away, a damaged record followed by acknowledged appends stops the node
// (DiskCorruptError).
//
// One log per replica rather than one shared by the server's replicas: the
// sharing saves fsyncs on real disks, and what recovery makes of one group's
// records does not depend on it.
//
// PacificaDisk (./pacifica-disk.ts) stays the plain reference semantics that
// the tests hold both this and ReplicaLog to.

import { EMPTY_DISK, type PersistRecord, type ReplicaDiskState } from '../pacifica/types.js';
import { concat } from '../runtime/log-segment.js';
import {
  decodeCheckpointBytes,
  emptyImage,
  groupRecord,
  imageRecords,
  liveRecords,
  markSyncPoint,
  planGroupWrite,
  recoverLog,
  toDiskState,
  type GroupLog,
} from '../runtime/replica-disk-format.js';

/** One I/O of a write: an append to the log, a checkpoint file replaced, the whole log replaced (both atomic). */
export type FileOp = { readonly kind: 'append' | 'checkpoint' | 'replace'; readonly bytes: Uint8Array };

/** A planned write: its I/O in order. */
export interface PlannedWrite {
  readonly ops: readonly FileOp[];
  /** Bytes it writes in all (a tear keeps a prefix of them). */
  readonly bytes: number;
}

export class ReplicaFiles {
  /** The log's contents, as appended (concatenated when read). */
  private log: Uint8Array[] = [];
  private checkpoint: Uint8Array | null = null;
  /** The group as planned (ahead of the files while writes are in flight). */
  private g: GroupLog = { tip: emptyImage(), gen: 0, records: 0 };
  /** Records in the log as planned (group records not counted): what the rewrite rule counts. */
  private logRecords = 0;
  /** The log as planned starts with the group record. */
  private grouped = false;
  /** Writes that reached the files (whole or torn). */
  writes = 0;

  constructor(
    readonly group: string,
    private readonly checkpointEvery: number,
  ) {}

  get logName(): string {
    return `${this.group}.log`;
  }

  get checkpointName(): string {
    return `${this.group}.checkpoint`;
  }

  /** Plans the write of `records` (as ReplicaLog.plan and perform do for one flush); `apply` does it. */
  plan(records: readonly PersistRecord[]): PlannedWrite {
    const planned = planGroupWrite(this.g, records);
    this.logRecords += planned.appended;
    const ops: FileOp[] = [];
    let pending: Uint8Array[] = [];
    const append = (): void => {
      if (pending.length === 0) return;
      if (!this.grouped) pending.unshift(groupRecord(this.group));
      this.grouped = true;
      pending[pending.length - 1] = markSyncPoint(pending[pending.length - 1]);
      ops.push({ kind: 'append', bytes: concat(pending) });
      pending = [];
    };
    for (const s of planned.steps) {
      // The log holds everything before a checkpoint before its file is replaced.
      if (s.kind === 'checkpoint') {
        append();
        ops.push({ kind: 'checkpoint', bytes: s.file });
      }
      pending.push(...s.records);
    }
    const live = this.g.records > 0 ? liveRecords(this.g.tip) : 0;
    if (this.logRecords - live > Math.max(this.checkpointEvery, live)) {
      // ReplicaLog's rule: rewritten once it holds more dead records than live ones; the rewrite holds the pending ones.
      const image = imageRecords(this.g.gen, this.g.tip);
      ops.push({ kind: 'replace', bytes: concat([groupRecord(this.group), ...image.slice(0, -1), markSyncPoint(image[image.length - 1])]) });
      this.g.records = image.length;
      this.logRecords = image.length;
      this.grouped = true;
    } else append();
    return { ops, bytes: ops.reduce((n, o) => n + o.bytes.length, 0) };
  }

  /**
   * The write reaches the files: all of it, or (a crash tearing it) its first
   * `keep` bytes: an append cut there keeps a prefix of its bytes, a file
   * replacement not wholly within them never happened (it is atomic).
   */
  apply(w: PlannedWrite, keep = Infinity): void {
    this.writes++;
    let left = keep;
    for (const op of w.ops) {
      if (left <= 0) return;
      if (op.kind === 'append') this.log.push(left >= op.bytes.length ? op.bytes : op.bytes.subarray(0, left));
      else if (left >= op.bytes.length) {
        if (op.kind === 'checkpoint') this.checkpoint = op.bytes;
        else this.log = [op.bytes];
      }
      left -= op.bytes.length;
    }
  }

  /**
   * A restart: what the files recover to, by the data server's recovery
   * (torn tail cut away, a rewrite done when a crash fell between a
   * checkpoint and its new base). Throws DiskCorruptError as it does.
   * Writes planned and not applied are forgotten.
   */
  load(): ReplicaDiskState {
    const bytes = this.logBytes();
    const checkpoints = new Map(this.checkpoint === null ? [] : [[this.group, decodeCheckpointBytes(this.checkpoint, this.checkpointName)]]);
    const r = recoverLog(bytes, checkpoints, { log: this.logName, dir: 'its data', checkpoint: () => this.checkpointName });
    this.log = r.size === 0 ? [] : [bytes.subarray(0, r.size)];
    const mine = r.groups.find((x) => x.name === this.group);
    this.g = mine === undefined ? { tip: emptyImage(), gen: 0, records: 0 } : { tip: mine.image, gen: mine.gen, records: mine.records };
    this.logRecords = r.records;
    this.grouped = r.lastGroup !== null;
    const state = mine === undefined ? EMPTY_DISK : toDiskState(mine.image);
    if (r.rewrite) {
      const image = imageRecords(this.g.gen, this.g.tip);
      this.log = [concat([groupRecord(this.group), ...image.slice(0, -1), markSyncPoint(image[image.length - 1])])];
      this.g.records = image.length;
      this.logRecords = image.length;
      this.grouped = true;
    }
    return state;
  }

  // ------------------------------------------------------------ the files, for the corrupt fault

  /** The files with their sizes, sorted by name. */
  files(): { name: string; size: number }[] {
    const out = [{ name: this.logName, size: this.log.reduce((n, b) => n + b.length, 0) }];
    if (this.checkpoint !== null) out.push({ name: this.checkpointName, size: this.checkpoint.length });
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  read(name: string): Uint8Array {
    return name === this.checkpointName ? (this.checkpoint ?? new Uint8Array(0)) : this.logBytes();
  }

  /** Replaces a file's contents (a stopped node's files: the corrupt fault). */
  replace(name: string, bytes: Uint8Array): void {
    if (name === this.checkpointName) this.checkpoint = bytes;
    else this.log = [bytes];
  }

  private logBytes(): Uint8Array {
    const bytes = this.log.length === 0 ? new Uint8Array(0) : concat(this.log);
    this.log = bytes.length === 0 ? [] : [bytes];
    return bytes;
  }
}
