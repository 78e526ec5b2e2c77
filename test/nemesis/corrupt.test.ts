// The file-corruption fault changes exactly the bytes it says it changes, only
// inside a file's data (not its preallocated zeros), and a seed picks the same.

import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Random } from '../../harness/core/generator/random.js';
import { corruptData, dataFiles, dataLength } from '../../nemesis/corrupt.js';

/** Files: bytes of data, then zeros (a preallocated tail). */
const filesArb = fc.array(fc.record({ data: fc.uint8Array({ minLength: 0, maxLength: 300 }), zeros: fc.nat({ max: 200 }) }), { minLength: 1, maxLength: 4 });

function lay(files: { data: Uint8Array; zeros: number }[]): { dir: string; contents: Map<string, Buffer> } {
  const dir = mkdtempSync(join(tmpdir(), 'undertow-corrupt-'));
  mkdirSync(join(dir, 'sub'));
  const contents = new Map<string, Buffer>();
  files.forEach((f, i) => {
    const name = i % 2 === 0 ? `f${i}.log` : join('sub', `f${i}.bin`);
    const b = Buffer.concat([Buffer.from(f.data), Buffer.alloc(f.zeros)]);
    writeFileSync(join(dir, name), b);
    contents.set(name, b);
  });
  return { dir, contents };
}

describe('corruptData', () => {
  it('bitflip: exactly the reported bytes change, each by one bit, inside the data; nothing else changes', () => {
    fc.assert(
      fc.property(filesArb, fc.integer(), (files, seed) => {
        const { dir, contents } = lay(files);
        try {
          const done = corruptData(dir, 'bitflip', Random.seeded(seed));
          const withData = [...contents].filter(([, b]) => b.some((x) => x !== 0));
          if (withData.length === 0) {
            expect(done.how).toBe('none');
            return;
          }
          if (done.how !== 'bitflip') throw new Error(`expected a bitflip, got ${done.how}`);
          expect(done.flips.length).toBeGreaterThanOrEqual(1);
          expect(done.flips.length).toBeLessThanOrEqual(8);
          for (const [name, before] of contents) {
            const after = readFileSync(join(dir, name));
            expect(after.length).toBe(before.length);
            const changed = [...after.keys()].filter((i) => after[i] !== before[i]);
            if (name !== done.file) expect(changed).toEqual([]);
            else {
              expect(changed).toEqual(done.flips.map((f) => f.offset));
              let last = before.length - 1;
              while (last >= 0 && before[last] === 0) last--;
              expect(done.dataBytes).toBe(last + 1);
              for (const f of done.flips) {
                expect(f.offset).toBeLessThan(done.dataBytes);
                expect(before[f.offset]).toBe(f.before);
                expect(after[f.offset]).toBe(f.after);
                const x = f.before ^ f.after;
                expect(x !== 0 && (x & (x - 1)) === 0).toBe(true);
              }
            }
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 150 },
    );
  });

  it('truncate: the chosen file keeps a prefix of its data, shorter than the data, as reported', () => {
    fc.assert(
      fc.property(filesArb, fc.integer(), (files, seed) => {
        const { dir, contents } = lay(files);
        try {
          const done = corruptData(dir, 'truncate', Random.seeded(seed));
          if (done.how === 'none') return;
          if (done.how !== 'truncate') throw new Error(`expected a truncate, got ${done.how}`);
          const before = contents.get(done.file)!;
          const after = readFileSync(join(dir, done.file));
          expect(done.sizeBefore).toBe(before.length);
          expect(after.length).toBe(done.sizeAfter);
          expect(done.sizeAfter).toBeLessThan(done.dataBytes);
          expect(after.equals(before.subarray(0, done.sizeAfter))).toBe(true);
          for (const [name, b] of contents) if (name !== done.file) expect(readFileSync(join(dir, name)).equals(b)).toBe(true);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 150 },
    );
  });

  it('the same seed corrupts the same file at the same offsets; data files are listed in a stable order', () => {
    const files = [
      { data: new Uint8Array(500).fill(7), zeros: 100 },
      { data: new Uint8Array(300).fill(9), zeros: 0 },
      { data: new Uint8Array(800).fill(1), zeros: 4096 },
    ];
    const a = lay(files);
    const b = lay(files);
    try {
      expect(dataFiles(a.dir)).toEqual(['f0.log', 'f2.log', join('sub', 'f1.bin')]);
      expect(corruptData(a.dir, 'bitflip', Random.seeded(3))).toEqual(corruptData(b.dir, 'bitflip', Random.seeded(3)));
      expect(dataLength(join(a.dir, 'f2.log'))).toBe(800);
    } finally {
      rmSync(a.dir, { recursive: true, force: true });
      rmSync(b.dir, { recursive: true, force: true });
    }
  });
});
