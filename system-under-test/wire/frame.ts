// Framing for a byte stream (TCP). Every frame is
//
//   offset 0  u8      magic 0x55 ('U')
//          1  u8      wire version (1)
//          2  u8      kind: 1 = Raft message (binary, codec.ts), 2 = JSON value
//          3  u32 BE  payload length
//          7  ...     payload
//     7 + len u32 BE  CRC-32 of bytes [0, 7 + len)
//
// FrameDecoder turns arbitrary chunks back into frames. It never throws: a bad
// magic, an unknown version or kind, an oversized length, a checksum mismatch
// or an undecodable payload yields an error, after which the decoder refuses
// everything (the connection must be closed — we do not try to resynchronize
// inside a corrupt stream).

import { Buffer, isUtf8 } from 'node:buffer';
import type { Message } from '../raft/types.js';
import { WireError, decodeMessage, encodeMessage } from './codec.js';
import { crc32 } from './crc32.js';

export const WIRE_MAGIC = 0x55;
export const WIRE_VERSION = 1;
const HEADER = 7;
const TRAILER = 4;
export const DEFAULT_MAX_FRAME = 16 * 1024 * 1024;

const KIND_RAFT = 1;
const KIND_JSON = 2;

export type Frame = { readonly kind: 'raft'; readonly message: Message } | { readonly kind: 'json'; readonly value: unknown };

function frame(kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length + TRAILER);
  const view = new DataView(out.buffer);
  out[0] = WIRE_MAGIC;
  out[1] = WIRE_VERSION;
  out[2] = kind;
  view.setUint32(3, payload.length);
  out.set(payload, HEADER);
  view.setUint32(HEADER + payload.length, crc32(out, 0, HEADER + payload.length));
  return out;
}

export function encodeFrame(f: Frame): Uint8Array {
  if (f.kind === 'raft') return frame(KIND_RAFT, encodeMessage(f.message));
  const json = JSON.stringify(f.value);
  if (json === undefined) throw new WireError('value is not JSON-serializable');
  // The text is encoded straight into the frame (no intermediate byte array); small frames come from
  // Buffer's pool. Every byte is written below.
  const len = Buffer.byteLength(json, 'utf8');
  const out = Buffer.allocUnsafe(HEADER + len + TRAILER);
  out[0] = WIRE_MAGIC;
  out[1] = WIRE_VERSION;
  out[2] = KIND_JSON;
  out.writeUInt32BE(len, 3);
  out.write(json, HEADER, 'utf8');
  out.writeUInt32BE(crc32(out, 0, HEADER + len), HEADER + len);
  // A plain Uint8Array view: callers get Uint8Array semantics (Buffer's slice() does not copy).
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

export interface DecodeResult {
  readonly frames: Frame[];
  /** Set once the stream is known to be garbage; close the connection. */
  readonly error: WireError | null;
}

export class FrameDecoder {
  private buf: Uint8Array = new Uint8Array(0);
  private error: WireError | null = null;

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  /** Feed the next chunk from the stream; returns every frame it completes. */
  push(chunk: Uint8Array): DecodeResult {
    const frames: Frame[] = [];
    if (this.error !== null) return { frames, error: this.error };
    try {
      // The common case (a chunk holding whole frames) is parsed in place; only a partial frame is kept.
      this.buf = this.buf.length === 0 ? chunk : concat(this.buf, chunk);
      let off = 0;
      while (this.buf.length - off >= HEADER) {
        const b = this.buf;
        if (b[off] !== WIRE_MAGIC) throw new WireError(`bad magic byte 0x${b[off].toString(16)}`);
        if (b[off + 1] !== WIRE_VERSION) throw new WireError(`unsupported wire version ${b[off + 1]}`);
        const kind = b[off + 2];
        if (kind !== KIND_RAFT && kind !== KIND_JSON) throw new WireError(`unknown frame kind ${kind}`);
        const len = u32(b, off + 3);
        if (len > this.maxFrame) throw new WireError(`frame of ${len} bytes exceeds the limit of ${this.maxFrame}`);
        const total = HEADER + len + TRAILER;
        if (b.length - off < total) break; // wait for the rest
        const want = u32(b, off + HEADER + len);
        if (crc32(b, off, off + HEADER + len) !== want) throw new WireError('frame checksum mismatch');
        const payload = b.subarray(off + HEADER, off + HEADER + len);
        frames.push(kind === KIND_RAFT ? { kind: 'raft', message: decodeMessage(payload) } : { kind: 'json', value: parseJson(payload) });
        off += total;
      }
      // Keep a copy of the rest (the chunk's memory may be reused by the caller).
      this.buf = off === this.buf.length ? EMPTY : this.buf.slice(off);
      return { frames, error: null };
    } catch (e) {
      this.error = e instanceof WireError ? e : new WireError(`undecodable frame: ${e instanceof Error ? e.message : String(e)}`);
      this.buf = new Uint8Array(0);
      return { frames, error: this.error };
    }
  }

  /** Bytes held while waiting for the rest of a frame. */
  buffered(): number {
    return this.buf.length;
  }
}

const EMPTY = new Uint8Array(0);

const u32 = (b: Uint8Array, at: number): number => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

function parseJson(payload: Uint8Array): unknown {
  if (!isUtf8(payload)) throw new WireError('JSON frame is not valid UTF-8');
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new WireError('JSON frame does not parse');
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
