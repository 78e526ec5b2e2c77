// CRC-32 (IEEE 802.3, the zlib/PNG polynomial). Every wire frame and disk
// record carries one so a corrupted or misaligned stream is rejected, not
// parsed. zlib's native crc32 (Node >= 20.15) is used when present: it is
// several times faster than the table for anything but the tiniest frames
// (about 10 ns a byte in JS on the project's machine, under 1 ns native), and
// every message pays it twice (sender and receiver). The table is the
// fallback, and the reference the tests compare against.

import * as zlib from 'node:zlib';

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The table-driven CRC-32 (the reference implementation). */
export function crc32Table(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** Below this many bytes the table is as fast as a call into zlib. */
const NATIVE_FROM = 64;

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (native === undefined || end - start < NATIVE_FROM) return crc32Table(bytes, start, end);
  return native(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), 0) >>> 0;
}
