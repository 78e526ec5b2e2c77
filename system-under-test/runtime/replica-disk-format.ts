// What a PacificA replica's disk holds, as records and as the state they fold
// to. Pure: no files here (replica-disk.ts does the I/O).
//
// Record types (framing in log-segment.ts). Numbers are varints; structured
// bodies (configurations, entries, checkpoints) are JSON, which keeps every
// operation kind the replica gains without a codec change and costs a few
// microseconds a record against an fsync's milliseconds (bench/replica-disk.ts
// prints both).
//
//   0 base       gen, sn, version — first record of a log: the checkpoint it continues
//   1 config     JSON GroupConfig
//   2 entry      JSON LogEntry
//   3 truncate   after
//   4 commit     sn
//   5 deposing   version
//   6 checkpoint gen, JSON Checkpoint — the only record of a checkpoint file
//   7 group      the group's name (UTF-8): the records after it, up to the next
//                group record, are that group's (the log is shared by every
//                replica of a data server, see replica-disk.ts)
//
// The high bit of the type byte marks the last record of an fsynced append
// (a sync point). Recovery uses it to tell a torn tail (nothing durable after
// the bad record) from corruption in the middle (acknowledged records after it).

import { EMPTY_CHECKPOINT, type Checkpoint, type GroupConfig, type LogEntry, type PersistRecord, type ReplicaDiskState } from '../pacifica/types.js';
import { invariant } from '../util/invariant.js';
import { Reader, Writer } from '../wire/codec.js';
import { Buffer } from 'node:buffer';
import { DiskCorruptError, RECORD_HEADER, frameRecord, frameText, recordsAfter, scanRecords, sealRecord, type ScannedRecord } from './log-segment.js';

export const REC_BASE = 0;
const REC_CONFIG = 1;
const REC_ENTRY = 2;
const REC_TRUNCATE = 3;
const REC_COMMIT = 4;
const REC_DEPOSING = 5;
export const REC_CHECKPOINT = 6;
export const REC_GROUP = 7;
export const SYNC_POINT = 0x80;

/** Group names become file names (GROUP.checkpoint): kept to a safe alphabet. */
export const GROUP_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function groupRecord(group: string): Uint8Array {
  invariant(GROUP_NAME.test(group), () => `replica disk: bad group name ${JSON.stringify(group)}`);
  return frameText(REC_GROUP, group);
}

export function decodeGroup(payload: Uint8Array): string {
  const group = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8');
  if (!GROUP_NAME.test(group)) throw new Error(`bad group name ${JSON.stringify(group)}`);
  return group;
}

/**
 * The disk's state as the records fold it: PacificaDisk (sim/pacifica-disk.ts)
 * is the reference for every rule here. `commit` is kept unclamped, as there;
 * `toDiskState` clamps it to the log end like PacificaDisk.load().
 */
export interface DiskImage {
  config: GroupConfig | null;
  checkpoint: Checkpoint;
  /** Contiguous from checkpoint.sn + 1. */
  entries: LogEntry[];
  commit: number;
  deposing: number | null;
}

export function emptyImage(): DiskImage {
  return { config: null, checkpoint: EMPTY_CHECKPOINT, entries: [], commit: 0, deposing: null };
}

/** Fold one record into the image (mutates it). Throws an InvariantError on an entry out of sequence. */
export function applyRecord(s: DiskImage, r: PersistRecord): void {
  switch (r.kind) {
    case 'config':
      s.config = r.config;
      return;
    case 'entry': {
      const end = s.checkpoint.sn + s.entries.length;
      invariant(r.entry.sn === end + 1, () => `replica disk: entry ${r.entry.sn} after end ${end}`);
      s.entries.push(r.entry);
      return;
    }
    case 'truncate':
      // Entries are contiguous, so "keep sn <= after" is a length.
      s.entries.length = Math.min(s.entries.length, Math.max(0, r.after - s.checkpoint.sn));
      s.commit = Math.min(s.commit, Math.max(r.after, s.checkpoint.sn));
      return;
    case 'commit':
      s.commit = Math.max(s.commit, r.sn);
      return;
    case 'deposing':
      s.deposing = r.version;
      return;
    case 'checkpoint': {
      const first = s.checkpoint.sn + 1;
      const c = r.checkpoint;
      // Keep the entries after the checkpoint only if they continue it (PacificaDisk's rule).
      s.entries = c.sn + 1 < first ? [] : s.entries.slice(c.sn + 1 - first);
      s.checkpoint = c;
      s.commit = Math.max(s.commit, c.sn);
      return;
    }
  }
}

export function toDiskState(s: DiskImage): ReplicaDiskState {
  const end = s.checkpoint.sn + s.entries.length;
  return { config: s.config, checkpoint: s.checkpoint, entries: [...s.entries], commit: Math.min(s.commit, end), deposing: s.deposing };
}

/** A record of unsigned varints (wire/codec.ts's encoding, which Reader.uint reads), written in place. */
function uintRecord(type: number, ...xs: number[]): Uint8Array {
  const out = Buffer.allocUnsafe(RECORD_HEADER + 8 * xs.length);
  let n = RECORD_HEADER;
  for (let v of xs) {
    invariant(Number.isSafeInteger(v) && v >= 0, () => `replica disk: cannot store ${v} as an unsigned integer`);
    while (v >= 0x80) {
      out[n++] = v % 0x80 | 0x80;
      v = Math.floor(v / 0x80);
    }
    out[n++] = v;
  }
  return sealRecord(out.subarray(0, n), type);
}

function jsonRecord(type: number, value: unknown): Uint8Array {
  return frameText(type, JSON.stringify(value));
}

export function encodeRecord(r: Exclude<PersistRecord, { kind: 'checkpoint' }>): Uint8Array {
  switch (r.kind) {
    case 'config':
      return jsonRecord(REC_CONFIG, r.config);
    case 'entry':
      return jsonRecord(REC_ENTRY, r.entry);
    case 'truncate':
      return uintRecord(REC_TRUNCATE, r.after);
    case 'commit':
      return uintRecord(REC_COMMIT, r.sn);
    case 'deposing':
      return uintRecord(REC_DEPOSING, r.version);
  }
}

export interface LogBase {
  /** Which checkpoint file this log continues: bumped by every checkpoint. */
  readonly gen: number;
  readonly sn: number;
  readonly version: number;
}

export function baseRecord(b: LogBase): Uint8Array {
  return uintRecord(REC_BASE, b.gen, b.sn, b.version);
}

/** The records of a fresh log that replays (from its base) to exactly `s`. */
export function imageRecords(gen: number, s: DiskImage): Uint8Array[] {
  const out = [baseRecord({ gen, sn: s.checkpoint.sn, version: s.checkpoint.version })];
  if (s.config !== null) out.push(encodeRecord({ kind: 'config', config: s.config }));
  if (s.deposing !== null) out.push(encodeRecord({ kind: 'deposing', version: s.deposing }));
  // Replay starts with commit = checkpoint.sn (see startImage), which a checkpoint record guarantees.
  if (s.commit > s.checkpoint.sn) out.push(encodeRecord({ kind: 'commit', sn: s.commit }));
  for (const e of s.entries) out.push(encodeRecord({ kind: 'entry', entry: e }));
  return out;
}

/** How many records `imageRecords` would write: what the log holds that still matters. */
export function liveRecords(s: DiskImage): number {
  return 1 + (s.config !== null ? 1 : 0) + (s.deposing !== null ? 1 : 0) + (s.commit > s.checkpoint.sn ? 1 : 0) + s.entries.length;
}

/** The image a log starts from: its base checkpoint (with `kv` when known). */
export function startImage(checkpoint: Checkpoint): DiskImage {
  return { config: null, checkpoint, entries: [], commit: checkpoint.sn, deposing: null };
}

/** The same record with its sync-point bit set (and its CRC recomputed). */
export function markSyncPoint(record: Uint8Array): Uint8Array {
  return frameRecord(record[8] | SYNC_POINT, record.subarray(9));
}

export function checkpointFile(gen: number, c: Checkpoint): Uint8Array {
  const w = new Writer();
  w.uint(gen);
  w.str(JSON.stringify(c));
  return frameRecord(REC_CHECKPOINT | SYNC_POINT, w.finish());
}

export function decodeCheckpointFile(payload: Uint8Array): { gen: number; checkpoint: Checkpoint } {
  const r = new Reader(payload);
  const gen = r.uint();
  const checkpoint = JSON.parse(r.str()) as Checkpoint;
  r.end();
  return { gen, checkpoint };
}

export function decodeBase(payload: Uint8Array): LogBase {
  const r = new Reader(payload);
  const b = { gen: r.uint(), sn: r.uint(), version: r.uint() };
  r.end();
  return b;
}

/** A log record (not the base) back as what the replica wrote. Throws on an unknown type or a malformed body. */
export function decodeRecord(type: number, payload: Uint8Array): Exclude<PersistRecord, { kind: 'checkpoint' }> {
  const uint = (): number => {
    const r = new Reader(payload);
    const v = r.uint();
    r.end();
    return v;
  };
  // The CRC vouches for the bytes; Buffer's decoder is the fast one for short strings.
  const json = (): unknown => JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
  switch (type & ~SYNC_POINT) {
    case REC_CONFIG:
      return { kind: 'config', config: json() as GroupConfig };
    case REC_ENTRY:
      return { kind: 'entry', entry: json() as LogEntry };
    case REC_TRUNCATE:
      return { kind: 'truncate', after: uint() };
    case REC_COMMIT:
      return { kind: 'commit', sn: uint() };
    case REC_DEPOSING:
      return { kind: 'deposing', version: uint() };
    default:
      throw new Error(`unknown record type ${type}`);
  }
}

// ------------------------------------------------------------- planning and recovery (pure)
//
// Shared by the data server's ReplicaLog (replica-disk.ts, which adds the files
// and fsyncs) and the simulated data server's disk (sim/replica-files.ts), so
// that a simulated crash is recovered by the very code a real restart runs.

/** One group's place in a log: the state after every accepted write, its checkpoint generation, its records in the log. */
export interface GroupLog {
  readonly tip: DiskImage;
  gen: number;
  /** Records of the group's current base stream in the log (the base included; 0: none yet). */
  records: number;
}

/** One unit of I/O for one group: an append, or a checkpoint file replaced before the group's new base stream is appended. */
export type GroupStep =
  | { readonly kind: 'append'; readonly records: readonly Uint8Array[] }
  | { readonly kind: 'checkpoint'; readonly file: Uint8Array; readonly records: readonly Uint8Array[] };

/**
 * Fold `records` into the group's tip and plan their I/O: a base record first
 * (the group's first write to this log), each record encoded, and each
 * checkpoint as its file then a fresh base stream of the image (the group's
 * earlier records are dead from there on). `appended`: records added to the log.
 */
export function planGroupWrite(g: GroupLog, records: readonly PersistRecord[]): { steps: GroupStep[]; appended: number } {
  const steps: GroupStep[] = [];
  let pending: Uint8Array[] = [];
  let appended = 0;
  const push = (bytes: Uint8Array): void => {
    pending.push(bytes);
    g.records++;
    appended++;
  };
  if (g.records === 0) push(baseRecord({ gen: g.gen, sn: g.tip.checkpoint.sn, version: g.tip.checkpoint.version }));
  for (const r of records) {
    applyRecord(g.tip, r);
    if (r.kind === 'checkpoint') {
      if (pending.length > 0) steps.push({ kind: 'append', records: pending });
      pending = [];
      g.gen++;
      const fresh = imageRecords(g.gen, g.tip);
      steps.push({ kind: 'checkpoint', file: checkpointFile(g.gen, r.checkpoint), records: fresh });
      g.records = fresh.length;
      appended += fresh.length;
    } else push(encodeRecord(r));
  }
  if (pending.length > 0) steps.push({ kind: 'append', records: pending });
  return { steps, appended };
}

/** A checkpoint file's contents; DiskCorruptError when it is not exactly one whole checkpoint record. */
export function decodeCheckpointBytes(bytes: Uint8Array, file: string): { gen: number; checkpoint: Checkpoint } {
  const s = scanRecords(bytes);
  if (s.records.length !== 1 || s.end !== bytes.length || (s.records[0].type & ~SYNC_POINT) !== REC_CHECKPOINT)
    throw new DiskCorruptError(`${file} is corrupt`);
  return corruptOnThrow(file, () => decodeCheckpointFile(s.records[0].payload));
}

export interface RecoveredLog {
  readonly groups: readonly { name: string; image: DiskImage; gen: number; records: number }[];
  /** Where the whole appends end: the log is cut there (a torn tail dropped). */
  readonly size: number;
  /** Records kept (group records not counted). */
  readonly records: number;
  /** The group of the last record kept. */
  readonly lastGroup: string | null;
  /** A group's records continue an older checkpoint (a crash before its new base): rewrite the log. */
  readonly rewrite: boolean;
}

/**
 * What a log's bytes and the groups' checkpoint files recover to (see
 * replica-disk.ts's file comment): the longest valid prefix up to its last
 * sync point; a bad record followed by an acknowledged append is corruption
 * (DiskCorruptError), as is anything that does not fit together. `where`
 * names the files in the errors.
 */
export function recoverLog(
  bytes: Uint8Array,
  checkpoints: ReadonlyMap<string, { gen: number; checkpoint: Checkpoint }>,
  where: { readonly log: string; readonly dir: string; readonly checkpoint: (group: string) => string },
): RecoveredLog {
  const logPath = where.log;
  const { records, end } = scanRecords(bytes);
  if (end < bytes.length) {
    const after = recordsAfter(bytes, end);
    // An append ending before another record was written (the next append starts only after that): acknowledged.
    const acked = after.slice(0, -1).filter((r) => (r.type & SYNC_POINT) !== 0).length;
    if (acked > 0)
      throw new DiskCorruptError(
        `${logPath}: bad record at byte ${end} followed by ${acked} acknowledged append(s); refusing to drop them (remove ${where.dir} to let the replicas catch up from their peers)`,
      );
  }

  // Only whole appends count: the records after the last sync point are a prefix of an append that never
  // finished, which nobody was told of. Keeping some of them could also split what must stay together (a
  // group's new base and the records of its image after a checkpoint, appended as one).
  let whole = records.length;
  while (whole > 0 && (records[whole - 1].type & SYNC_POINT) === 0) whole--;
  const kept = records.slice(0, whole);
  const keptEnd = whole === 0 ? 0 : kept[whole - 1].offset + RECORD_HEADER + kept[whole - 1].payload.length;

  // Each group's records from its last base record on.
  const streams = new Map<string, ScannedRecord[]>();
  let current: string | null = null;
  let counted = 0;
  for (const rec of kept) {
    const type = rec.type & ~SYNC_POINT;
    if (type === REC_GROUP) {
      current = corruptOnThrow(`${logPath} at byte ${rec.offset}`, () => decodeGroup(rec.payload));
      continue;
    }
    counted++;
    if (current === null) throw new DiskCorruptError(`${logPath} at byte ${rec.offset}: a record before any group record`);
    if (type === REC_BASE) streams.set(current, [rec]);
    else {
      const s = streams.get(current);
      if (s === undefined) throw new DiskCorruptError(`${logPath} at byte ${rec.offset}: ${current} has no base record before this one`);
      s.push(rec);
    }
  }

  const groups: { name: string; image: DiskImage; gen: number; records: number }[] = [];
  let rewrite = false;
  for (const name of new Set([...streams.keys(), ...checkpoints.keys()])) {
    const cpPath = where.checkpoint(name);
    const stream = streams.get(name);
    if (stream === undefined) throw new DiskCorruptError(`${logPath} holds nothing of ${name} but ${cpPath} exists`);
    const cp = checkpoints.get(name) ?? { gen: 0, checkpoint: emptyImage().checkpoint };
    const base = corruptOnThrow(logPath, () => decodeBase(stream[0].payload));
    let image: DiskImage;
    let behind = false;
    if (base.gen === cp.gen) {
      if (base.sn !== cp.checkpoint.sn || base.version !== cp.checkpoint.version)
        throw new DiskCorruptError(
          `${logPath}: ${name} continues checkpoint ${base.sn}@${base.version} but ${cpPath} holds ${cp.checkpoint.sn}@${cp.checkpoint.version}`,
        );
      image = startImage(cp.checkpoint);
    } else if (base.gen + 1 === cp.gen) {
      // A crash between the checkpoint file and the group's new base: its old records, then the checkpoint record.
      // The old checkpoint's state is gone, but the fold of the entries, truncates and commits needs only its sn.
      image = startImage({ sn: base.sn, version: base.version, kv: {} });
      behind = true;
    } else throw new DiskCorruptError(`${logPath}: ${name} (generation ${base.gen}) does not belong to ${cpPath} (generation ${cp.gen})`);
    for (const rec of stream.slice(1)) corruptOnThrow(`${logPath} at byte ${rec.offset}`, () => applyRecord(image, decodeRecord(rec.type, rec.payload)));
    if (behind) applyRecord(image, { kind: 'checkpoint', checkpoint: cp.checkpoint });
    rewrite ||= behind;
    groups.push({ name, image, gen: cp.gen, records: stream.length });
  }
  return { groups, size: keptEnd, records: counted, lastGroup: current, rewrite };
}

function corruptOnThrow<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new DiskCorruptError(`${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
