import fc from 'fast-check';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Entry, Membership, Message } from '../../../system-under-test/raft/types.js';
import { WireError, decodeMessage, encodeMessage } from '../../../system-under-test/wire/codec.js';
import { crc32, crc32Table } from '../../../system-under-test/wire/crc32.js';
import { FrameDecoder, WIRE_MAGIC, encodeFrame, type Frame } from '../../../system-under-test/wire/frame.js';

const id = fc.constantFrom('n1', 'n2', 'n3', 'node-☃', 'x');
const nat = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const small = fc.nat({ max: 1000 });
const membership: fc.Arbitrary<Membership> = fc.record({
  voters: fc.array(id, { maxLength: 5 }),
  outgoing: fc.array(id, { maxLength: 5 }),
  learners: fc.array(id, { maxLength: 3 }),
});

const append = fc
  .record({
    from: id,
    prevIndex: small,
    prevTerm: fc.nat({ max: 5 }),
    commit: small,
    extra: fc.nat({ max: 5 }),
    kinds: fc.array(fc.tuple(fc.constantFrom('command', 'noop', 'config'), fc.string(), membership, fc.boolean()), { maxLength: 6 }),
  })
  .map(({ from, prevIndex, prevTerm, commit, extra, kinds }) => {
    let term = prevTerm;
    const entries: Entry[] = kinds.map(([kind, data, config, bump], i) => {
      if (bump) term++;
      const index = prevIndex + 1 + i;
      return kind === 'command' ? { index, term, kind, data } : kind === 'noop' ? { index, term, kind } : { index, term, kind, config };
    });
    return { type: 'append' as const, from, to: 'dest', term: term + extra, prevIndex, prevTerm, entries, commit };
  });

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('vote' as const), from: id, to: fc.constant('dest'), term: nat, lastLogIndex: nat, lastLogTerm: nat }),
  fc.record({ type: fc.constant('voteResp' as const), from: id, to: fc.constant('dest'), term: nat, granted: fc.boolean() }),
  append,
  fc.record({
    type: fc.constant('appendResp' as const),
    from: id,
    to: fc.constant('dest'),
    term: nat,
    success: fc.boolean(),
    matchIndex: nat,
    rejectedIndex: fc.integer({ min: -1, max: 1e12 }),
    hint: nat,
  }),
  fc.record({ type: fc.constant('heartbeat' as const), from: id, to: fc.constant('dest'), term: nat, commit: nat, seq: nat }),
  fc.record({ type: fc.constant('heartbeatResp' as const), from: id, to: fc.constant('dest'), term: nat, seq: nat }),
  fc
    .record({
      from: id,
      index: fc.integer({ min: 1, max: 1e9 }),
      term: fc.integer({ min: 1, max: 50 }),
      config: membership,
      data: fc.string({ maxLength: 200 }),
      extra: small,
    })
    .map(({ from, index, term, config, data, extra }) => ({
      type: 'snapshot' as const,
      from,
      to: 'dest',
      term: term + extra,
      snapshot: { index, term, config, data },
    })),
);

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  message.map((m) => ({ kind: 'raft' as const, message: m })),
  fc.jsonValue().map((v) => ({ kind: 'json' as const, value: JSON.parse(JSON.stringify(v)) as unknown })),
);

/** Split bytes into chunks at the given cut points. */
function chunks(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

describe('crc32', () => {
  it('matches the standard check value and zlib', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => crc32(b) === zlibCrc32(b)));
  });

  it('the table and the native path agree on every sub-range (small and large)', () => {
    expect(crc32Table(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(), fc.nat(), (b, x, y) => {
        const start = b.length === 0 ? 0 : x % b.length;
        const end = start + (b.length - start === 0 ? 0 : y % (b.length - start + 1));
        return crc32(b, start, end) === crc32Table(b, start, end) && crc32(b, start, end) === zlibCrc32(b.subarray(start, end));
      }),
    );
  });
});

describe('message codec', () => {
  it('property: every message round-trips', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it('is compact: a heartbeat is a handful of bytes', () => {
    const hb: Message = { type: 'heartbeat', from: 'n1', to: 'n2', term: 7, commit: 1234, seq: 99 };
    expect(encodeMessage(hb).length).toBeLessThanOrEqual(12);
  });

  it('rejects malformed and nonsensical payloads with a WireError', () => {
    expect(() => decodeMessage(new Uint8Array([]))).toThrow(WireError);
    expect(() => decodeMessage(new Uint8Array([42]))).toThrow(/unknown message type/);
    const ok = encodeMessage({ type: 'voteResp', from: 'a', to: 'b', term: 1, granted: true });
    expect(() => decodeMessage(concat([ok, new Uint8Array([0])]))).toThrow(/trailing/);
    expect(() => decodeMessage(ok.subarray(0, ok.length - 1))).toThrow(/truncated/);
    const self = encodeMessage({ type: 'voteResp', from: 'a', to: 'a', term: 1, granted: true });
    expect(() => decodeMessage(self)).toThrow(/sender/);
    const gap = encodeMessage({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 2,
      prevIndex: 3,
      prevTerm: 1,
      commit: 0,
      entries: [{ index: 5, term: 2, kind: 'noop' }],
    });
    expect(() => decodeMessage(gap)).toThrow(/contiguous/);
    const future = encodeMessage({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 2,
      prevIndex: 3,
      prevTerm: 1,
      commit: 0,
      entries: [{ index: 4, term: 3, kind: 'noop' }],
    });
    expect(() => decodeMessage(future)).toThrow(/term/);
  });

  it('property: decoding random bytes either yields a valid message or a WireError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          const m = decodeMessage(b);
          expect(decodeMessage(encodeMessage(m))).toEqual(m);
        } catch (e) {
          expect(e).toBeInstanceOf(WireError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('frames', () => {
  it('property: a stream of frames cut into arbitrary chunks decodes to the same frames', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
        const stream = concat(frames.map(encodeFrame));
        const d = new FrameDecoder();
        const got: Frame[] = [];
        for (const c of chunks(stream, cuts)) {
          const r = d.push(c);
          expect(r.error).toBeNull();
          got.push(...r.frames);
        }
        expect(got).toEqual(frames);
        expect(d.buffered()).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('property (fuzz): garbage never throws out of the decoder and never yields a frame', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 10 }), (parts) => {
        const d = new FrameDecoder();
        for (const p of parts) {
          const r = d.push(p); // must not throw
          // A random stream passing magic, version, kind, length and CRC-32 is (practically) impossible.
          expect(r.frames).toEqual([]);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('property (fuzz): a corrupted byte in a valid stream is detected, frames before it survive', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 5 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (frames, at, xor) => {
        const encoded = frames.map(encodeFrame);
        const stream = concat(encoded);
        const pos = at % stream.length;
        const bad = stream.slice();
        bad[pos] ^= xor;
        const d = new FrameDecoder();
        const r = d.push(bad);
        // Which frame did we hit?
        let k = 0;
        let start = 0;
        while (start + encoded[k].length <= pos) start += encoded[k++].length;
        expect(r.frames).toEqual(frames.slice(0, k));
        // The damaged frame is rejected, or (if the length field grew) still awaited; never accepted.
        if (r.error === null) {
          expect(pos - start).toBeGreaterThanOrEqual(3);
          expect(pos - start).toBeLessThan(7);
          expect(d.buffered()).toBeGreaterThan(0);
        } else {
          expect(r.error).toBeInstanceOf(WireError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects bad magic, versions, kinds and oversized frames, then stays closed', () => {
    const good = encodeFrame({ kind: 'json', value: { hello: 1 } });
    const cases: [number, number, RegExp][] = [
      [0, 0x00, /magic/],
      [1, 9, /version/],
      [2, 7, /kind/],
    ];
    for (const [pos, value, msg] of cases) {
      const b = good.slice();
      b[pos] = value;
      const d = new FrameDecoder();
      expect(d.push(b).error?.message).toMatch(msg);
      expect(d.push(good)).toMatchObject({ frames: [], error: expect.any(WireError) });
    }
    const tiny = new FrameDecoder(4);
    expect(tiny.push(good).error?.message).toMatch(/exceeds the limit/);
    expect(good[0]).toBe(WIRE_MAGIC);
  });

  it('a checksum-valid frame with an undecodable payload is an error, not an exception', () => {
    const json = encodeFrame({ kind: 'json', value: 'x' });
    // Rebuild a frame whose payload is not JSON but whose CRC is right.
    const payload = new TextEncoder().encode('{nope');
    const b = new Uint8Array(7 + payload.length + 4);
    b.set(json.subarray(0, 3));
    new DataView(b.buffer).setUint32(3, payload.length);
    b.set(payload, 7);
    new DataView(b.buffer).setUint32(7 + payload.length, crc32(b, 0, 7 + payload.length));
    expect(new FrameDecoder().push(b).error?.message).toMatch(/does not parse/);
  });
});
