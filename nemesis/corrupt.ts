// File corruption of a stopped node's data, as Jepsen's file-corruption
// nemesis does: flip bits in, or cut the tail off, one of its data files.
// Black-box: the harness knows no file format. It aims inside the part of a
// file that holds data (up to its last non-zero byte), because systems
// preallocate their logs and a flip in the zeros past the end of the data
// would change nothing a system reads. What was done is returned exactly
// (file, offsets, old and new bytes, sizes), so the history explains the run
// and a test can check the bytes.

import { closeSync, openSync, readdirSync, readSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Random } from '../harness/core/generator/random.js';
import type { DataFiles } from '../harness/core/provider.js';

export const CORRUPTIONS = ['bitflip', 'truncate'] as const;
export type Corruption = (typeof CORRUPTIONS)[number];

export interface Flip {
  offset: number;
  before: number;
  after: number;
}

export type CorruptionDone =
  | { how: 'bitflip'; file: string; dataBytes: number; flips: Flip[] }
  | { how: 'truncate'; file: string; dataBytes: number; sizeBefore: number; sizeAfter: number }
  | { how: 'none'; note: string };

/** Regular files under `dir`, as paths relative to it, sorted (so a seed picks the same one). */
export function dataFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** The length of the file's data: up to and including its last non-zero byte. */
export function dataLength(path: string): number {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(1 << 16);
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - chunk.length);
      const n = readSync(fd, chunk, 0, end - start, start);
      for (let i = n - 1; i >= 0; i--) if (chunk[i] !== 0) return start + i + 1;
      end = start;
    }
    return 0;
  } finally {
    closeSync(fd);
  }
}

/** What corrupting needs of a node's files: the real ones under its data dir, or a simulated node's in memory. */
interface FileAccess {
  /** Files with data (length up to the last non-zero byte), sorted by name. */
  withData(): { f: string; n: number }[];
  size(f: string): number;
  truncate(f: string, length: number): void;
  /** Applies `change` to each byte at `offsets` (ascending); returns the bytes before and after. */
  flip(f: string, offsets: readonly number[], change: (before: number) => number): Flip[];
}

function diskAccess(dir: string): FileAccess {
  return {
    withData: () =>
      dataFiles(dir)
        .map((f) => ({ f, n: dataLength(join(dir, f)) }))
        .filter((x) => x.n > 0),
    size: (f) => statSync(join(dir, f)).size,
    truncate: (f, length) => truncateSync(join(dir, f), length),
    flip(f, offsets, change) {
      const fd = openSync(join(dir, f), 'r+');
      const flips: Flip[] = [];
      try {
        for (const offset of offsets) {
          const b = Buffer.alloc(1);
          readSync(fd, b, 0, 1, offset);
          const before = b[0];
          const after = change(before);
          b[0] = after;
          writeSync(fd, b, 0, 1, offset);
          flips.push({ offset, before, after });
        }
      } finally {
        closeSync(fd);
      }
      return flips;
    },
  };
}

function memoryAccess(files: DataFiles): FileAccess {
  const lengthOf = (b: Uint8Array): number => {
    let n = b.length;
    while (n > 0 && b[n - 1] === 0) n--;
    return n;
  };
  return {
    withData: () =>
      files
        .list()
        .map((x) => ({ f: x.name, n: lengthOf(files.read(x.name)) }))
        .filter((x) => x.n > 0)
        .sort((a, b) => a.f.localeCompare(b.f)),
    size: (f) => files.read(f).length,
    truncate: (f, length) => files.replace(f, files.read(f).slice(0, length)),
    flip(f, offsets, change) {
      const b = files.read(f).slice();
      const flips = offsets.map((offset) => {
        const before = b[offset];
        b[offset] = change(before);
        return { offset, before, after: b[offset] };
      });
      files.replace(f, b);
      return flips;
    },
  };
}

/**
 * Corrupts one file under `dir` (the node must be stopped): picks a file
 * with data, weighted by its data's length, then either flips one bit in each
 * of 1-8 bytes of its data, or cuts off the last 1-50% of its data (and
 * whatever preallocated space follows).
 */
export function corruptData(dir: string, how: Corruption, random: Random): CorruptionDone {
  return corrupt(diskAccess(dir), `under ${dir}`, how, random);
}

/** The same corruption of a simulated node's files (in memory; the node must be stopped). */
export function corruptFiles(files: DataFiles, node: string, how: Corruption, random: Random): CorruptionDone {
  return corrupt(memoryAccess(files), `of ${node}`, how, random);
}

function corrupt(access: FileAccess, where: string, how: Corruption, random: Random): CorruptionDone {
  const files = access.withData();
  if (files.length === 0) return { how: 'none', note: `no file with data ${where}` };
  const total = files.reduce((s, x) => s + x.n, 0);
  let at = random.float() * total;
  const chosen = files.find((x) => (at -= x.n) < 0) ?? files[files.length - 1];
  if (how === 'truncate') {
    const sizeBefore = access.size(chosen.f);
    const cut = Math.max(1, Math.ceil(chosen.n * (0.01 + 0.49 * random.float())));
    const sizeAfter = chosen.n - cut;
    access.truncate(chosen.f, sizeAfter);
    return { how, file: chosen.f, dataBytes: chosen.n, sizeBefore, sizeAfter };
  }
  const count = 1 + random.int(8);
  const offsets = new Set<number>();
  while (offsets.size < Math.min(count, chosen.n)) offsets.add(random.int(chosen.n));
  const flips = access.flip(
    chosen.f,
    [...offsets].sort((a, b) => a - b),
    (before) => before ^ (1 << random.int(8)),
  );
  return { how, file: chosen.f, dataBytes: chosen.n, flips };
}
