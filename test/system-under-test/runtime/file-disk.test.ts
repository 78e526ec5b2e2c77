import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initialState } from '../../../system-under-test/raft/node.js';
import type { Entry, HardState, Ready, Snapshot } from '../../../system-under-test/raft/types.js';
import { FileDisk } from '../../../system-under-test/runtime/file-disk.js';
import { scanRecords } from '../../../system-under-test/runtime/log-segment.js';
import { SimDisk } from '../../../system-under-test/sim/disk.js';

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-disk-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const INIT = initialState(['a', 'b', 'c']);
const cmd = (index: number, term: number, data = `c${index}`): Entry => ({ index, term, kind: 'command', data });
const ready = (r: Partial<Ready>): Ready => ({ hardState: null, snapshot: null, entries: [], committedEntries: [], messages: [], readStates: [], ...r });

describe('FileDisk', () => {
  it('initialises a fresh directory and reopens it', () => {
    const dir = tmp();
    const d = FileDisk.open(dir, () => INIT);
    expect(d.load()).toEqual(INIT);
    d.close();
    expect(
      FileDisk.open(dir, () => {
        throw new Error('must not re-initialise');
      }).load(),
    ).toEqual(INIT);
  });

  it('persists entries and hard state with one fsync per Ready, and truncates conflicting suffixes', () => {
    const dir = tmp();
    const d = FileDisk.open(dir, () => INIT);
    d.write(ready({ entries: [cmd(1, 1), cmd(2, 1), cmd(3, 1)], hardState: { term: 1, vote: 'a', commit: 1 } }));
    expect(d.syncs).toBe(1);
    d.write(ready({ entries: [cmd(2, 2, 'x')], hardState: { term: 2, vote: null, commit: 1 } }));
    d.write(ready({ entries: [cmd(3, 2, 'y')] }));
    d.close();
    const back = FileDisk.open(dir, () => INIT).load();
    expect(back.entries).toEqual([cmd(1, 1), cmd(2, 2, 'x'), cmd(3, 2, 'y')]);
    expect(back.hardState).toEqual({ term: 2, vote: null, commit: 1 });
  });

  it('keeps the hard state when a truncation cuts the record that held it', () => {
    const dir = tmp();
    const d = FileDisk.open(dir, () => INIT);
    d.write(ready({ entries: [cmd(1, 1), cmd(2, 1)] }));
    d.write(ready({ hardState: { term: 3, vote: 'b', commit: 1 } }));
    d.write(ready({ entries: [cmd(2, 3)] })); // cuts at entry 2, before the hard-state record
    d.close();
    expect(FileDisk.open(dir, () => INIT).load()).toMatchObject({ hardState: { term: 3, vote: 'b', commit: 1 }, entries: [cmd(1, 1), cmd(2, 3)] });
  });

  it('discards a torn tail on recovery', () => {
    const dir = tmp();
    const d = FileDisk.open(dir, () => INIT);
    d.write(ready({ entries: [cmd(1, 1), cmd(2, 1)], hardState: { term: 1, vote: 'a', commit: 0 } }));
    d.write(ready({ entries: [cmd(3, 1)] }));
    d.close();
    const log = path.join(dir, 'raft.log');
    const size = fs.statSync(log).size;
    fs.truncateSync(log, size - 3); // the last record is torn
    const back = FileDisk.open(dir, () => INIT);
    expect(back.load().entries).toEqual([cmd(1, 1), cmd(2, 1)]);
    back.write(ready({ entries: [cmd(3, 2)] })); // and the log is writable again
    back.close();
    expect(FileDisk.open(dir, () => INIT).load().entries).toEqual([cmd(1, 1), cmd(2, 1), cmd(3, 2)]);
  });

  it('refuses a bad record followed by a whole append (acknowledged: dropping it could make the node vote twice), but drops a bad last append', () => {
    const dir = tmp();
    const d = FileDisk.open(dir, () => INIT);
    d.write(ready({ entries: [cmd(1, 1), cmd(2, 1)], hardState: { term: 1, vote: 'a', commit: 0 } }));
    const log = path.join(dir, 'raft.log');
    const afterFirst = fs.statSync(log).size;
    d.write(ready({ hardState: { term: 2, vote: 'b', commit: 1 } }));
    d.write(ready({ entries: [cmd(3, 2)] }));
    d.close();
    const good = fs.readFileSync(log);
    // A flipped bit inside entry 1's record (the first append): the two appends after it were acknowledged.
    const flipped = Buffer.from(good);
    flipped[afterFirst - 30] ^= 0x10;
    fs.writeFileSync(log, flipped);
    expect(() => FileDisk.open(dir, () => INIT)).toThrow(/bad record at byte \d+ followed by 2 acknowledged append\(s\); refusing to drop them/);
    // A flipped bit in the last append only: a torn write, dropped; the vote of term 2 survives.
    const lastFlipped = Buffer.from(good);
    lastFlipped[good.length - 12] ^= 0x01;
    fs.writeFileSync(log, lastFlipped);
    const back = FileDisk.open(dir, () => INIT);
    expect(back.load().entries).toEqual([cmd(1, 1), cmd(2, 1)]);
    expect(back.load().hardState).toEqual({ term: 2, vote: 'b', commit: 1 });
    back.close();
  });

  it('property: a flipped bit in any record of an append that two more appends follow is refused, never dropped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 8 }), fc.nat(), fc.nat({ max: 7 }), (appends, pick, bit) => {
        const dir = tmp();
        const d = FileDisk.open(dir, () => INIT);
        let index = 0;
        for (let a = 0; a < appends; a++) {
          const entries = Array.from({ length: 1 + (a % 3) }, () => cmd(++index, 1));
          d.write(ready({ entries, hardState: a % 2 === 0 ? { term: 1, vote: 'a', commit: Math.max(0, index - 2) } : null }));
        }
        d.close();
        const log = path.join(dir, 'raft.log');
        const bytes = fs.readFileSync(log);
        const { records } = scanRecords(new Uint8Array(bytes));
        // The records of every append but the last two (the base record and the initial hard state excepted).
        const states = records.map((r, i) => (r.type === 2 ? i : -1)).filter((i) => i >= 0);
        const lastEligible = states[states.length - 3];
        const eligible = records.slice(2, lastEligible + 1);
        const target = eligible[pick % eligible.length];
        const at = target.offset + 8 + (pick % (target.payload.length + 1));
        bytes[Math.min(at, target.offset + 8 + target.payload.length)] ^= 1 << bit;
        fs.writeFileSync(log, bytes);
        expect(() => FileDisk.open(dir, () => INIT)).toThrow(/refusing to drop them/);
      }),
      { numRuns: 100 },
    );
  });

  it('keeps whole appends only: an entry whose append did not end with its hard state record is dropped', () => {
    const dir = tmp();
    const d = FileDisk.open(dir, () => INIT);
    d.write(ready({ entries: [cmd(1, 1)], hardState: { term: 1, vote: 'a', commit: 0 } }));
    d.write(ready({ entries: [cmd(2, 1), cmd(3, 1)] }));
    d.close();
    const log = path.join(dir, 'raft.log');
    const bytes = fs.readFileSync(log);
    // Cut the last append's hard state record off at its boundary: entries 2 and 3 are whole records, but not a whole append.
    const { records } = scanRecords(new Uint8Array(bytes));
    fs.truncateSync(log, records[records.length - 1].offset);
    const back = FileDisk.open(dir, () => INIT);
    expect(back.load().entries).toEqual([cmd(1, 1)]);
    back.write(ready({ entries: [cmd(2, 2)] }));
    back.close();
    expect(FileDisk.open(dir, () => INIT).load().entries).toEqual([cmd(1, 1), cmd(2, 2)]);
  });

  it('compacts: the snapshot replaces the prefix, the tail and hard state survive', () => {
    const dir = tmp();
    const d = FileDisk.open(dir, () => INIT);
    d.write(ready({ entries: [1, 2, 3, 4, 5].map((i) => cmd(i, 1)), hardState: { term: 1, vote: 'a', commit: 4 } }));
    const snap: Snapshot = { index: 3, term: 1, config: INIT.snapshot.config, data: '{"x":1}' };
    d.saveSnapshot(snap);
    d.write(ready({ entries: [cmd(6, 1)] }));
    d.write(ready({ entries: [cmd(5, 2, 'z')] })); // truncation after compaction uses the new offsets
    d.close();
    expect(FileDisk.open(dir, () => INIT).load()).toEqual({
      hardState: { term: 1, vote: 'a', commit: 4 },
      snapshot: snap,
      entries: [cmd(4, 1), cmd(5, 2, 'z')],
    });
  });

  it('installs a received snapshot, dropping the whole log', () => {
    const dir = tmp();
    const d = FileDisk.open(dir, () => INIT);
    d.write(ready({ entries: [cmd(1, 1), cmd(2, 1)] }));
    const snap: Snapshot = { index: 9, term: 4, config: INIT.snapshot.config, data: 'S' };
    const hs: HardState = { term: 4, vote: null, commit: 9 };
    d.write(ready({ snapshot: snap, hardState: hs, entries: [cmd(10, 4)] }));
    d.close();
    expect(FileDisk.open(dir, () => INIT).load()).toEqual({ hardState: hs, snapshot: snap, entries: [cmd(10, 4)] });
  });

  it('a crash between writing a snapshot and rewriting the log keeps only what continues the snapshot', () => {
    const dir = tmp();
    const d = FileDisk.open(dir, () => INIT);
    d.write(ready({ entries: [cmd(1, 1), cmd(2, 1), cmd(3, 1)], hardState: { term: 1, vote: null, commit: 1 } }));
    d.close();
    const log = fs.readFileSync(path.join(dir, 'raft.log'));
    // Simulate: a received snapshot at 2 of another history was written, the log rewrite never happened.
    const other = FileDisk.open(tmp(), () => INIT);
    other.write(ready({ snapshot: { index: 2, term: 5, config: INIT.snapshot.config, data: 'S' }, hardState: { term: 5, vote: null, commit: 2 } }));
    other.close();
    fs.copyFileSync(path.join(dirs[1], 'raft.snapshot'), path.join(dir, 'raft.snapshot'));
    fs.writeFileSync(path.join(dir, 'raft.log'), log);
    const back = FileDisk.open(dir, () => INIT).load();
    expect(back.snapshot.index).toBe(2);
    expect(back.entries).toEqual([]); // entry 3 followed a different entry 2: dropped
    expect(back.hardState.commit).toBe(1); // the node raises it to the snapshot index on start
  });

  it('property: behaves like the simulated disk for any sequence of Readies and compactions', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('append' as const),
        back: fc.nat(3),
        n: fc.integer({ min: 1, max: 4 }),
        bump: fc.boolean(),
        vote: fc.constantFrom(null, 'a', 'b'),
      }),
      fc.record({ kind: fc.constant('compact' as const), back: fc.nat(3) }),
      fc.record({ kind: fc.constant('reopen' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const dir = tmp();
        let disk = FileDisk.open(dir, () => INIT);
        const model = new SimDisk(INIT);
        let term = 1;
        for (const o of ops) {
          const st = model.load();
          const last = st.snapshot.index + st.entries.length;
          if (o.kind === 'append') {
            const first = Math.max(st.snapshot.index + 1, last + 1 - o.back);
            if (o.bump) term++;
            const entries = Array.from({ length: o.n }, (_, i) => cmd(first + i, term, `t${term}`));
            const rd = ready({ entries, hardState: { term, vote: o.vote, commit: st.snapshot.index } });
            disk.write(rd);
            model.write(rd);
          } else if (o.kind === 'compact') {
            const at = last - o.back;
            if (at <= st.snapshot.index) continue;
            const e = st.entries[at - st.snapshot.index - 1];
            const s: Snapshot = { index: at, term: e.term, config: INIT.snapshot.config, data: `s${at}` };
            disk.saveSnapshot(s);
            model.saveSnapshot(s);
          } else {
            disk.close();
            disk = FileDisk.open(dir, () => INIT);
            expect(disk.load()).toEqual(model.load());
          }
        }
        disk.close();
        expect(FileDisk.open(dir, () => INIT).load()).toEqual(model.load());
        fs.rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 60 },
    );
  });
});
