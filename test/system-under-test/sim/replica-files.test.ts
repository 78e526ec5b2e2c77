// The simulated data server's disk holds bytes laid out as the real log lays
// them out, and recovers them with the real recovery: whole writes come back
// exactly as PacificaDisk (the reference semantics) holds them; a torn last
// write comes back as a prefix of the writes that includes every earlier
// (complete) write; a flipped bit followed by acknowledged appends stops it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiskCorruptError } from '../../../system-under-test/runtime/log-segment.js';
import { ReplicaFiles } from '../../../system-under-test/sim/replica-files.js';
import { entry, intent, more, prefixIndex, prefixStates, reference, toBatches } from '../runtime/disk-intents.js';
import type { PersistRecord } from '../../../system-under-test/pacifica/types.js';

function written(batches: readonly (readonly PersistRecord[])[], checkpointEvery: number): ReplicaFiles {
  const d = new ReplicaFiles('g1', checkpointEvery);
  for (const b of batches) if (b.length > 0) d.apply(d.plan(b));
  return d;
}

describe('ReplicaFiles: the simulated disk, recovered by the data server recovery', () => {
  it('recovers exactly what PacificaDisk holds after the same writes, and again after more', () => {
    fc.assert(
      fc.property(fc.array(intent, { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), (intents, checkpointEvery) => {
        const batches = toBatches(intents);
        const d = written(batches, checkpointEvery);
        const back = d.load();
        expect(back).toEqual(reference(batches));
        const extra = more(back);
        d.apply(d.plan(extra));
        expect(d.load()).toEqual(reference([...batches, extra]));
      }),
      { numRuns: 150 },
    );
  });

  it('a write torn at any byte recovers a prefix of the writes that keeps every earlier one, and takes more', () => {
    fc.assert(
      fc.property(
        fc.array(intent, { minLength: 1, maxLength: 50 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 12 }),
        (intents, where, checkpointEvery) => {
          const batches = toBatches(intents).filter((b) => b.length > 0);
          fc.pre(batches.length > 0);
          const before = batches.slice(0, -1);
          const last = batches[batches.length - 1];
          const d = written(before, checkpointEvery);
          const w = d.plan(last);
          const keep = Math.floor(where * w.bytes);
          d.apply(w, keep);
          const back = d.load();
          const states = prefixStates(batches);
          const k = prefixIndex(states, back);
          expect(k, `recovered state is no prefix of the writes (torn at ${keep} of ${w.bytes})`).toBeGreaterThanOrEqual(before.flat().length);
          const extra = more(back);
          d.apply(d.plan(extra));
          expect(d.load()).toEqual(reference([batches.flat().slice(0, k), extra]));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a flipped bit followed by acknowledged appends is corruption: recovery refuses it', () => {
    const d = new ReplicaFiles('g1', 1000);
    for (let sn = 1; sn <= 5; sn++) d.apply(d.plan([{ kind: 'entry', entry: entry(sn) }]));
    const log = d.read(d.logName).slice();
    log[40] ^= 0x10; // inside the first appends, far from the last
    d.replace(d.logName, log);
    expect(() => d.load()).toThrow(DiskCorruptError);
  });

  it('lists its files with their sizes; a checkpoint file appears once written', () => {
    const d = new ReplicaFiles('g1', 1000);
    d.apply(d.plan([{ kind: 'entry', entry: entry(1) }]));
    expect(d.files().map((f) => f.name)).toEqual(['g1.log']);
    d.apply(
      d.plan([
        { kind: 'commit', sn: 1 },
        { kind: 'checkpoint', checkpoint: { sn: 1, version: 1, kv: { k1: 1 } } },
      ]),
    );
    expect(d.files().map((f) => f.name)).toEqual(['g1.checkpoint', 'g1.log']);
    expect(d.files().every((f) => f.size > 0)).toBe(true);
  });
});
