// A compact binary encoding of Raft messages: unsigned LEB128 varints for
// numbers (zigzag where a value may be negative), length-prefixed UTF-8
// strings, one byte for each enum. The Reader checks every bound and throws a
// WireError on anything malformed; callers (the frame decoder) turn that into
// a rejected frame, never a crash.

import type { Entry, Membership, Message, Snapshot } from '../raft/types.js';

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.len++] = v & 0xff;
  }

  /** Unsigned varint, 0 <= v <= 2^53 - 1. */
  uint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new WireError(`cannot encode ${v} as an unsigned integer`);
    this.reserve(8);
    while (v >= 0x80) {
      this.buf[this.len++] = v % 0x80 | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  /** Signed varint (zigzag). */
  int(v: number): void {
    if (!Number.isSafeInteger(v) || Math.abs(v) > Number.MAX_SAFE_INTEGER / 2) throw new WireError(`cannot encode ${v} as an integer`);
    this.uint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  bool(v: boolean): void {
    this.u8(v ? 1 : 0);
  }

  bytes(b: Uint8Array): void {
    this.uint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  str(s: string): void {
    this.bytes(encoder.encode(s));
  }

  strs(xs: readonly string[]): void {
    this.uint(xs.length);
    for (const x of xs) this.str(x);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export class Reader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new WireError(`truncated payload: need ${n} byte(s) at offset ${this.pos} of ${this.buf.length}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  uint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(v)) throw new WireError('varint out of range');
        return v;
      }
      scale *= 0x80;
    }
    throw new WireError('varint too long');
  }

  int(): number {
    const z = this.uint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  bool(): boolean {
    const b = this.u8();
    if (b > 1) throw new WireError(`bad boolean ${b}`);
    return b === 1;
  }

  /** A count of items each at least `minBytes` long: bounded by what is left. */
  count(minBytes = 1): number {
    const n = this.uint();
    if (n * minBytes > this.buf.length - this.pos) throw new WireError(`count ${n} exceeds the remaining payload`);
    return n;
  }

  str(): string {
    const n = this.count();
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return decoder.decode(bytes);
    } catch {
      throw new WireError('string is not valid UTF-8');
    }
  }

  strs(): string[] {
    const n = this.count();
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.str());
    return out;
  }

  end(): void {
    if (this.pos !== this.buf.length) throw new WireError(`${this.buf.length - this.pos} trailing byte(s) after the message`);
  }
}

const MESSAGE_TYPES = ['vote', 'voteResp', 'append', 'appendResp', 'heartbeat', 'heartbeatResp', 'snapshot'] as const;
const ENTRY_KINDS = ['command', 'noop', 'config'] as const;

function writeMembership(w: Writer, m: Membership): void {
  w.strs(m.voters);
  w.strs(m.outgoing);
  w.strs(m.learners);
}

function readMembership(r: Reader): Membership {
  return { voters: r.strs(), outgoing: r.strs(), learners: r.strs() };
}

function writeEntry(w: Writer, e: Entry): void {
  w.uint(e.index);
  w.uint(e.term);
  w.u8(ENTRY_KINDS.indexOf(e.kind));
  if (e.kind === 'command') w.str(e.data);
  else if (e.kind === 'config') writeMembership(w, e.config);
}

function readEntry(r: Reader): Entry {
  const index = r.uint();
  const term = r.uint();
  const kind = ENTRY_KINDS[r.u8()];
  switch (kind) {
    case 'command':
      return { index, term, kind, data: r.str() };
    case 'noop':
      return { index, term, kind };
    case 'config':
      return { index, term, kind, config: readMembership(r) };
    default:
      throw new WireError('unknown entry kind');
  }
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  w.uint(s.index);
  w.uint(s.term);
  writeMembership(w, s.config);
  w.str(s.data);
}

function readSnapshot(r: Reader): Snapshot {
  return { index: r.uint(), term: r.uint(), config: readMembership(r), data: r.str() };
}

export function encodeEntry(e: Entry): Uint8Array {
  const w = new Writer();
  writeEntry(w, e);
  return w.finish();
}

export function decodeEntry(bytes: Uint8Array): Entry {
  const r = new Reader(bytes);
  const e = readEntry(r);
  r.end();
  return e;
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  const w = new Writer();
  writeSnapshot(w, s);
  return w.finish();
}

export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  const r = new Reader(bytes);
  const s = readSnapshot(r);
  r.end();
  return s;
}

export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer();
  w.u8(MESSAGE_TYPES.indexOf(m.type));
  w.str(m.from);
  w.str(m.to);
  w.uint(m.term);
  switch (m.type) {
    case 'vote':
      w.uint(m.lastLogIndex);
      w.uint(m.lastLogTerm);
      break;
    case 'voteResp':
      w.bool(m.granted);
      break;
    case 'append':
      w.uint(m.prevIndex);
      w.uint(m.prevTerm);
      w.uint(m.commit);
      w.uint(m.entries.length);
      for (const e of m.entries) writeEntry(w, e);
      break;
    case 'appendResp':
      w.bool(m.success);
      w.uint(m.matchIndex);
      w.int(m.rejectedIndex);
      w.uint(m.hint);
      break;
    case 'heartbeat':
      w.uint(m.commit);
      w.uint(m.seq);
      break;
    case 'heartbeatResp':
      w.uint(m.seq);
      break;
    case 'snapshot':
      writeSnapshot(w, m.snapshot);
      break;
  }
  return w.finish();
}

/** Decode one message; throws WireError on any malformed input. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new Reader(bytes);
  const type = MESSAGE_TYPES[r.u8()];
  if (type === undefined) throw new WireError('unknown message type');
  const from = r.str();
  const to = r.str();
  const term = r.uint();
  let m: Message;
  switch (type) {
    case 'vote':
      m = { type, from, to, term, lastLogIndex: r.uint(), lastLogTerm: r.uint() };
      break;
    case 'voteResp':
      m = { type, from, to, term, granted: r.bool() };
      break;
    case 'append': {
      const prevIndex = r.uint();
      const prevTerm = r.uint();
      const commit = r.uint();
      const n = r.count(3);
      const entries: Entry[] = [];
      for (let i = 0; i < n; i++) entries.push(readEntry(r));
      m = { type, from, to, term, prevIndex, prevTerm, entries, commit };
      break;
    }
    case 'appendResp':
      m = { type, from, to, term, success: r.bool(), matchIndex: r.uint(), rejectedIndex: r.int(), hint: r.uint() };
      break;
    case 'heartbeat':
      m = { type, from, to, term, commit: r.uint(), seq: r.uint() };
      break;
    case 'heartbeatResp':
      m = { type, from, to, term, seq: r.uint() };
      break;
    case 'snapshot':
      m = { type, from, to, term, snapshot: readSnapshot(r) };
      break;
  }
  r.end();
  validate(m);
  return m;
}

/**
 * Checks that a well-formed message also makes sense, so that a buggy or
 * hostile peer is rejected at the edge instead of tripping an invariant (and
 * stopping the node) inside the Raft state machine.
 */
function validate(m: Message): void {
  if (m.from === '' || m.to === '' || m.from === m.to) throw new WireError(`bad sender/receiver ${JSON.stringify(m.from)} -> ${JSON.stringify(m.to)}`);
  if (m.type === 'append') {
    let prevTerm = m.prevTerm;
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i];
      if (e.index !== m.prevIndex + 1 + i) throw new WireError(`append entries not contiguous after ${m.prevIndex}`);
      if (e.term < prevTerm || e.term > m.term) throw new WireError(`append entry ${e.index} has term ${e.term} out of order or above ${m.term}`);
      prevTerm = e.term;
    }
  }
  if (m.type === 'snapshot' && (m.snapshot.term > m.term || (m.snapshot.index === 0) !== (m.snapshot.term === 0))) {
    throw new WireError('snapshot metadata out of range');
  }
}
