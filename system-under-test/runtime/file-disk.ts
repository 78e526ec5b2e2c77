// Durable storage of one Raft node in a directory, with fsync:
//
//   raft.log       append-only records [u32 len][u32 crc32][u8 type][payload]:
//                  type 0 base (index, term) — first record, the snapshot the
//                  log continues; 1 an entry; 2 a hard state (the last wins).
//   raft.snapshot  one record holding the latest snapshot, replaced atomically.
//
// (The framing and the atomic replace are shared with the PacificA replica's
// disk: log-segment.ts.)
//
// A Ready is written as one append (entries, then the hard state) and one
// fsync, so a crash leaves either all or a prefix of it; each append ends
// with the hard state record, so recovery keeps whole appends only and
// discards a torn tail, but refuses (DiskCorruptError) a bad record followed
// by a whole append: that one was acknowledged. A cut at a record boundary
// (the file's tail lost) cannot be told from an older log: undetectable. Truncating the log (a follower overwriting a
// conflicting suffix) re-appends the current hard state after the cut. Log
// compaction writes the new snapshot first, then rewrites the log atomically;
// recovery keeps the log tail after the snapshot only if the log holds the
// snapshot's last entry (Raft's InstallSnapshot rule), so a crash between
// the two steps is harmless.
//
// I/O is synchronous: the node's event loop waits for the fsync, which keeps
// the Ready contract trivially true (nothing is stepped mid-write); the CM
// server batches many messages into one Ready, so this is group commit.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Entry, HardState, PersistedState, Ready, Snapshot } from '../raft/types.js';
import { invariant } from '../util/invariant.js';
import { Reader, Writer, decodeEntry, decodeSnapshot, encodeEntry, encodeSnapshot } from '../wire/codec.js';
import { DiskCorruptError, recordsAfter, concat, frameRecord as record, scanRecords as scan, writeFileAtomicSync as writeFileAtomic } from './log-segment.js';

export { DiskCorruptError };

const LOG = 'raft.log';
const SNAPSHOT = 'raft.snapshot';
const REC_BASE = 0;
const REC_ENTRY = 1;
const REC_STATE = 2;

function baseRecord(index: number, term: number): Uint8Array {
  const w = new Writer();
  w.uint(index);
  w.uint(term);
  return record(REC_BASE, w.finish());
}

function stateRecord(hs: HardState): Uint8Array {
  const w = new Writer();
  w.uint(hs.term);
  w.str(hs.vote ?? '');
  w.uint(hs.commit);
  return record(REC_STATE, w.finish());
}

function readState(payload: Uint8Array): HardState {
  const r = new Reader(payload);
  const term = r.uint();
  const vote = r.str();
  const commit = r.uint();
  r.end();
  return { term, vote: vote === '' ? null : vote, commit };
}

export class FileDisk {
  private fd: number;
  private size = 0;
  /** File offset of each entry record, entry i at offsets[i - base - 1]. */
  private offsets: number[] = [];
  private base = 0;
  private lastIndex = 0;
  private hardState: HardState;
  private snapshot: Snapshot;
  private loaded: PersistedState;
  /** fsync calls made (for tests and the benchmark). */
  syncs = 0;

  /** Open the node's directory; a fresh one is initialised with `initial()`. */
  static open(dir: string, initial: () => PersistedState): FileDisk {
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(path.join(dir, SNAPSHOT))) {
      const init = initial();
      invariant(init.entries.length === 0, 'an initial state has no entries');
      writeFileAtomic(dir, LOG, concat([baseRecord(init.snapshot.index, init.snapshot.term), stateRecord(init.hardState)]));
      writeFileAtomic(dir, SNAPSHOT, record(REC_BASE, encodeSnapshot(init.snapshot)));
    }
    return new FileDisk(dir);
  }

  private constructor(private readonly dir: string) {
    const snapBytes = new Uint8Array(fs.readFileSync(path.join(dir, SNAPSHOT)));
    const snapScan = scan(snapBytes);
    if (snapScan.records.length !== 1 || snapScan.end !== snapBytes.length) throw new DiskCorruptError(`${path.join(dir, SNAPSHOT)} is corrupt`);
    this.snapshot = decodeSnapshot(snapScan.records[0].payload);

    const logPath = path.join(dir, LOG);
    const bytes = new Uint8Array(fs.readFileSync(logPath));
    const scanned = scan(bytes);
    if (scanned.records.length === 0 || scanned.records[0].type !== REC_BASE) throw new DiskCorruptError(`${logPath} has no base record`);
    if (scanned.end < bytes.length) {
      // A bad record is a torn tail only if no whole append follows it: an append that ended (its hard
      // state record) before another began was fsynced and acknowledged (votes, entries counted for a
      // commit). Dropping it silently would let this node vote twice or forget a committed entry.
      const after = recordsAfter(bytes, scanned.end);
      const acked = after.slice(0, -1).filter((x) => x.type === REC_STATE).length;
      if (acked > 0)
        throw new DiskCorruptError(
          `${logPath}: bad record at byte ${scanned.end} followed by ${acked} acknowledged append(s); refusing to drop them (remove ${dir} and add this member back to let it catch up from its peers)`,
        );
    }
    // Only whole appends count: records after the last hard state are the start of an append that never finished.
    let whole = scanned.records.length;
    while (whole > 1 && scanned.records[whole - 1].type !== REC_STATE) whole--;
    const records = scanned.records.slice(0, whole);
    const end = whole === scanned.records.length ? scanned.end : scanned.records[whole].offset;
    const r = new Reader(records[0].payload);
    const baseIndex = r.uint();
    const baseTerm = r.uint();
    let hs: HardState = { term: 0, vote: null, commit: 0 };
    const entries: Entry[] = [];
    for (const rec of records.slice(1)) {
      if (rec.type === REC_STATE) hs = readState(rec.payload);
      else if (rec.type === REC_ENTRY) {
        const e = decodeEntry(rec.payload);
        if (e.index !== baseIndex + entries.length + 1) throw new DiskCorruptError(`${logPath}: entry ${e.index} out of sequence`);
        entries.push(e);
      } else throw new DiskCorruptError(`${logPath}: unknown record type ${rec.type}`);
    }
    // Keep the log after the snapshot only if it continues the snapshot.
    const s = this.snapshot;
    const termAt = (i: number): number | undefined =>
      i === baseIndex ? baseTerm : i > baseIndex && i <= baseIndex + entries.length ? entries[i - baseIndex - 1].term : undefined;
    let kept: Entry[];
    if (termAt(s.index) === s.term) kept = entries.filter((e) => e.index > s.index);
    else kept = [];

    // Never claim a commit index beyond the log we kept (the node raises it to the snapshot index itself).
    this.hardState = { ...hs, commit: Math.min(hs.commit, s.index + kept.length) };
    this.loaded = { hardState: this.hardState, snapshot: s, entries: kept };

    const consistent = baseIndex === s.index && baseTerm === s.term && kept.length === entries.length && end === bytes.length;
    if (consistent) {
      this.fd = fs.openSync(logPath, 'r+');
      this.size = end;
      this.base = baseIndex;
      this.offsets = records.filter((x) => x.type === REC_ENTRY).map((x) => x.offset);
      this.lastIndex = baseIndex + entries.length;
    } else {
      // A torn tail, or an interrupted compaction/restore: rewrite the log clean.
      this.fd = -1;
      this.rewrite(s, kept, this.hardState);
    }
  }

  load(): PersistedState {
    return this.loaded;
  }

  /** Write a Ready durably: snapshot (if any), entries, hard state; one fsync for the log. */
  write(rd: Ready): void {
    if (rd.snapshot !== null) {
      writeFileAtomic(this.dir, SNAPSHOT, record(REC_BASE, encodeSnapshot(rd.snapshot)));
      this.snapshot = rd.snapshot;
      this.rewrite(rd.snapshot, [], rd.hardState ?? this.hardState);
    }
    const parts: Uint8Array[] = [];
    let truncated = false;
    if (rd.entries.length > 0) {
      const first = rd.entries[0].index;
      invariant(first > this.base && first <= this.lastIndex + 1, () => `disk: append at ${first} outside ${this.base + 1}..${this.lastIndex + 1}`);
      if (first <= this.lastIndex) {
        this.size = this.offsets[first - this.base - 1];
        fs.ftruncateSync(this.fd, this.size);
        this.offsets.length = first - this.base - 1;
        this.lastIndex = first - 1;
        truncated = true;
      }
      let off = this.size;
      for (const e of rd.entries) {
        const rec = record(REC_ENTRY, encodeEntry(e));
        this.offsets.push(off);
        off += rec.length;
        parts.push(rec);
      }
      this.lastIndex = rd.entries[rd.entries.length - 1].index;
    }
    if (rd.hardState !== null) this.hardState = rd.hardState;
    if (parts.length === 0 && rd.hardState === null && !truncated) return;
    // Every append ends with the hard state, even unchanged: the mark of a whole, fsynced append,
    // by which recovery tells a torn tail from acknowledged records after a corrupt one.
    parts.push(stateRecord(this.hardState));
    const buf = concat(parts);
    fs.writeSync(this.fd, buf, 0, buf.length, this.size);
    this.size += buf.length;
    fs.fsyncSync(this.fd);
    this.syncs++;
  }

  /** Write a snapshot made by local compaction, then drop the log prefix it covers. */
  saveSnapshot(s: Snapshot): void {
    invariant(
      s.index > this.snapshot.index && s.index <= this.lastIndex,
      () => `disk: compaction to ${s.index} outside (${this.snapshot.index}, ${this.lastIndex}]`,
    );
    writeFileAtomic(this.dir, SNAPSHOT, record(REC_BASE, encodeSnapshot(s)));
    this.snapshot = s;
    const from = this.offsets[s.index - this.base]; // offset of entry s.index + 1, or undefined
    const tail = new Uint8Array(from === undefined ? 0 : this.size - from);
    if (tail.length > 0) fs.readSync(this.fd, tail, 0, tail.length, from);
    const keptEntries = this.lastIndex - s.index;
    // Rebuild offsets relative to the new file.
    const head = concat([baseRecord(s.index, s.term), stateRecord(this.hardState)]);
    const shift = head.length - (from ?? this.size);
    const offsets = this.offsets.slice(s.index - this.base).map((o) => o + shift);
    invariant(offsets.length === keptEntries, 'disk: compaction offsets');
    this.replaceLog(concat([head, tail]));
    this.base = s.index;
    this.offsets = offsets;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  private rewrite(s: Snapshot, entries: readonly Entry[], hs: HardState): void {
    const parts = [baseRecord(s.index, s.term)];
    let off = parts[0].length;
    const offsets: number[] = [];
    for (const e of entries) {
      const rec = record(REC_ENTRY, encodeEntry(e));
      offsets.push(off);
      off += rec.length;
      parts.push(rec);
    }
    // The hard state last: it marks the end of a whole write (see the constructor).
    parts.push(stateRecord(hs));
    this.replaceLog(concat(parts));
    this.base = s.index;
    this.offsets = offsets;
    this.lastIndex = s.index + entries.length;
    this.hardState = hs;
  }

  private replaceLog(bytes: Uint8Array): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    writeFileAtomic(this.dir, LOG, bytes);
    this.syncs++;
    this.fd = fs.openSync(path.join(this.dir, LOG), 'r+');
    this.size = bytes.length;
  }
}
