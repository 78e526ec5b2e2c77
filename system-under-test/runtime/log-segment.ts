// The on-disk framing shared by the Raft node's FileDisk and the PacificA
// replicas' ReplicaLog, and the atomic file replace both use:
//
//   record = [u32 len][u32 crc32][u8 type][payload]    (big-endian; len counts type + payload,
//                                                       the CRC covers type + payload)
//
// A reader takes the longest valid prefix of a file (`scanRecords`); what
// follows is a torn or corrupt tail, and each disk decides what that means.
// Whole files that must never be seen half-written (snapshots, checkpoints,
// compacted logs) are written to NAME.tmp, fsynced, renamed over NAME, and the
// directory fsynced, so after a crash either the old or the new file is there.

import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { crc32 } from '../wire/crc32.js';

export const RECORD_HEADER = 9;

export class DiskCorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiskCorruptError';
  }
}

export function frameRecord(type: number, payload: Uint8Array): Uint8Array {
  // Buffer.allocUnsafe takes small records from a pool: a fresh Uint8Array per record costs more than the
  // encoding itself (bench/replica-disk.ts). Every byte is written below.
  const out = Buffer.allocUnsafe(RECORD_HEADER + payload.length);
  out.set(payload, RECORD_HEADER);
  return sealRecord(out, type);
}

/** A record whose payload is `text` in UTF-8, encoded straight into the record. */
export function frameText(type: number, text: string): Uint8Array {
  const out = Buffer.allocUnsafe(RECORD_HEADER + Buffer.byteLength(text, 'utf8'));
  out.write(text, RECORD_HEADER, 'utf8');
  return sealRecord(out, type);
}

/** Fill in the header of a record (`out` = RECORD_HEADER bytes of room, then the payload). */
export function sealRecord(out: Buffer, type: number): Uint8Array {
  out.writeUInt32BE(out.length - 8, 0);
  out[8] = type;
  out.writeUInt32BE(crc32(out, 8, out.length), 4);
  return out;
}

export interface ScannedRecord {
  readonly type: number;
  readonly payload: Uint8Array;
  /** Where the record starts in the scanned bytes. */
  readonly offset: number;
}

/** Records of a file, stopping at the first torn or corrupt one; `end` is where the valid prefix ends. */
export function scanRecords(bytes: Uint8Array): { records: ScannedRecord[]; end: number } {
  const records: ScannedRecord[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off + RECORD_HEADER <= bytes.length) {
    const len = v.getUint32(off);
    if (len < 1 || off + 8 + len > bytes.length) break;
    if (crc32(bytes, off + 8, off + 8 + len) !== v.getUint32(off + 4)) break;
    records.push({ type: bytes[off + 8], payload: bytes.subarray(off + RECORD_HEADER, off + 8 + len), offset: off });
    off += 8 + len;
  }
  return { records, end: off };
}

/**
 * Every valid record after the bad one at `off`, however many bad stretches
 * lie between them: the scan resumes where the bad record claims to end, and
 * where that claim cannot be trusted (its length field may be the part that
 * is corrupt), byte by byte until a record's length and CRC check out. A
 * record found this way was written whole: the place to look for appends that
 * were acknowledged after a corrupt one.
 */
export function recordsAfter(bytes: Uint8Array, off: number): ScannedRecord[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const valid = (at: number): number | null => {
    if (at + RECORD_HEADER > bytes.length) return null;
    const len = v.getUint32(at);
    if (len < 1 || at + 8 + len > bytes.length) return null;
    return crc32(bytes, at + 8, at + 8 + len) === v.getUint32(at + 4) ? at + 8 + len : null;
  };
  const out: ScannedRecord[] = [];
  for (let at = off + 1; at + RECORD_HEADER <= bytes.length; ) {
    const end = valid(at);
    if (end === null) {
      at++;
      continue;
    }
    out.push({ type: bytes[at + 8], payload: bytes.subarray(at + RECORD_HEADER, end), offset: at });
    at = end;
  }
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// ------------------------------------------------------- synchronous (Raft)

export function writeFileAtomicSync(dir: string, name: string, bytes: Uint8Array): void {
  const tmp = path.join(dir, `${name}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, name));
  fsyncDirSync(dir);
}

export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// ------------------------------------------------ asynchronous (PacificA)

/** `sync(file)` is called for every fsync (of a file or of `dir`); with `sync: null` nothing is fsynced. */
export type SyncFn = ((file: string, handle: fsp.FileHandle) => Promise<void>) | null;

export async function writeFileAtomic(dir: string, name: string, bytes: Uint8Array, sync: SyncFn): Promise<void> {
  const tmp = path.join(dir, `${name}.tmp`);
  const h = await fsp.open(tmp, 'w');
  try {
    await writeAll(h, bytes, 0);
    if (sync !== null) await sync(tmp, h);
  } finally {
    await h.close();
  }
  await fsp.rename(tmp, path.join(dir, name));
  if (sync !== null) await fsyncDir(dir, sync);
}

export async function fsyncDir(dir: string, sync: Exclude<SyncFn, null>): Promise<void> {
  const h = await fsp.open(dir, 'r');
  try {
    await sync(dir, h);
  } finally {
    await h.close();
  }
}

/** Write all of `bytes` at `position` (a short write is continued, not silently accepted). */
export async function writeAll(h: fsp.FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await h.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`short write at ${position + done}`);
    done += bytesWritten;
  }
}
