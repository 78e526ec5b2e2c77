import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_DISK, type Checkpoint, type PersistRecord, type ReplicaDiskState } from '../../../system-under-test/pacifica/types.js';
import {
  DiskCorruptError,
  LOG_FILE,
  ReplicaLog,
  checkpointFileOf,
  type ReplicaDiskOptions,
  type ReplicaDiskStats,
} from '../../../system-under-test/runtime/replica-disk.js';
import { cfg, entry, intent, more, prefixIndex, prefixStates, reference, toBatches } from './disk-intents.js';

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-replica-disk-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const entries = (from: number, to: number, version = 1): PersistRecord[] => {
  const out: PersistRecord[] = [];
  for (let sn = from; sn <= to; sn++) out.push({ kind: 'entry', entry: entry(sn, version) });
  return out;
};
const checkpoint = (sn: number, version = 1, kv: Checkpoint['kv'] = { x: sn }): PersistRecord => ({ kind: 'checkpoint', checkpoint: { sn, version, kv } });

/** Most tests use one group's store of the log: what one replica sees. */
const G = 'g';
const CHECKPOINT_FILE = checkpointFileOf(G);
interface OneGroup {
  readonly state: ReplicaDiskState;
  readonly stats: ReplicaDiskStats;
  write(records: readonly PersistRecord[]): Promise<void>;
  close(): Promise<void>;
}
async function openOne(dir: string, o: ReplicaDiskOptions = {}): Promise<OneGroup> {
  const log = await ReplicaLog.open(dir, o);
  return { ...log.replica(G), close: () => log.close() };
}

async function reopen(dir: string, o: ReplicaDiskOptions = {}): Promise<ReplicaDiskState> {
  const d = await openOne(dir, o);
  await d.close();
  return d.state;
}

async function writeAll(dir: string, batches: readonly (readonly PersistRecord[])[], o: ReplicaDiskOptions = {}): Promise<OneGroup> {
  const d = await openOne(dir, o);
  for (const b of batches) await d.write(b);
  await d.close();
  return d;
}

describe('ReplicaLog, one group: records and recovery', () => {
  it('opens a fresh directory empty, and reopens it empty', async () => {
    const dir = path.join(tmp(), 'nested', 'replica');
    expect(await reopen(dir)).toEqual(EMPTY_DISK);
    expect(fs.readdirSync(dir).sort()).toEqual([LOG_FILE]);
    expect(await reopen(dir)).toEqual(EMPTY_DISK);
  });

  it('keeps each record kind across a restart', async () => {
    const dir = tmp();
    const batches: PersistRecord[][] = [
      [{ kind: 'config', config: cfg(1) }],
      entries(1, 4),
      [{ kind: 'commit', sn: 2 }],
      [
        { kind: 'truncate', after: 3 },
        { kind: 'entry', entry: entry(4, 2, 'x') },
      ],
      [
        { kind: 'deposing', version: 1 },
        { kind: 'config', config: cfg(2, 'b') },
      ],
      [{ kind: 'entry', entry: { sn: 5, version: 2, id: 'c', op: { f: 'cas', key: 'k', from: null, to: 'y' } } }],
      [{ kind: 'entry', entry: { sn: 6, version: 2, id: 'a', op: { f: 'append', key: 'l', value: 7 } } }],
    ];
    await writeAll(dir, batches);
    const back = await reopen(dir);
    expect(back).toEqual(reference(batches));
    expect(back).toMatchObject({ config: cfg(2, 'b'), commit: 2, deposing: 1 });
    expect(back.entries.map((e) => `${e.sn}@${e.version}`)).toEqual(['1@1', '2@1', '3@1', '4@2', '5@2', '6@2']);
  });

  it('a truncate below the commit point lowers it, as PacificaDisk does', async () => {
    const dir = tmp();
    const batches = [entries(1, 5), [{ kind: 'commit', sn: 5 } as const], [{ kind: 'truncate', after: 2 } as const]];
    await writeAll(dir, batches);
    expect(await reopen(dir)).toEqual({ ...EMPTY_DISK, entries: [entry(1), entry(2)], commit: 2 });
  });

  it('a checkpoint goes to its own file and starts the group again from a base holding only what follows it', async () => {
    const dir = tmp();
    const d = await openOne(dir);
    await d.write([{ kind: 'config', config: cfg(3) }, ...entries(1, 50), { kind: 'commit', sn: 40 }]);
    const before = fs.statSync(path.join(dir, LOG_FILE)).size;
    await d.write([checkpoint(40, 1, { k0: 39, k1: 40, k2: 38 })]);
    expect(d.stats).toMatchObject({ checkpoints: 1, rewrites: 0 });
    // Appended: a base naming the checkpoint, config, commit and entries 41-50 (the 50 before are dead).
    const after = fs.statSync(path.join(dir, LOG_FILE)).size;
    expect(after - before).toBeLessThan(before / 3);
    await d.write(entries(51, 52));
    await d.close();
    const back = await reopen(dir);
    expect(back.checkpoint).toEqual({ sn: 40, version: 1, kv: { k0: 39, k1: 40, k2: 38 } });
    expect(back.entries.map((e) => e.sn)).toEqual([41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52]);
    expect(back).toMatchObject({ config: cfg(3), commit: 40 });
    expect(fs.readdirSync(dir).sort()).toEqual([CHECKPOINT_FILE, LOG_FILE]);
  });

  it('a catch-up checkpoint beyond the log drops the log, and the following truncate keeps it empty', async () => {
    const dir = tmp();
    const batches = [entries(1, 3), [checkpoint(10, 4), { kind: 'truncate', after: 10 } as const], entries(11, 12, 4)];
    await writeAll(dir, batches);
    const back = await reopen(dir);
    expect(back).toEqual(reference(batches));
    expect(back.entries.map((e) => e.sn)).toEqual([11, 12]);
    expect(back.commit).toBe(10);
  });

  it('rewrites a log full of dead records on its own, without a checkpoint', async () => {
    const dir = tmp();
    const d = await openOne(dir, { fsync: false, checkpointEvery: 20 });
    const batches: PersistRecord[][] = [];
    for (let v = 1; v <= 60; v++)
      batches.push([
        { kind: 'config', config: cfg(v) },
        { kind: 'entry', entry: entry(1, v) },
        { kind: 'truncate', after: 0 },
      ]);
    for (const b of batches) await d.write(b);
    await d.close();
    expect(d.stats.rewrites).toBeGreaterThanOrEqual(3);
    expect(d.stats.checkpoints).toBe(0);
    expect(await reopen(dir)).toEqual(reference(batches));
    // The log holds no more than the slack plus what is live (base + config).
    expect(fs.statSync(path.join(dir, LOG_FILE)).size).toBeLessThan(60 * 20);
  });

  it('discards a torn tail, truncates the file there, and appends after it', async () => {
    const dir = tmp();
    await writeAll(dir, [entries(1, 2), entries(3, 3)]);
    const log = path.join(dir, LOG_FILE);
    const size = fs.statSync(log).size;
    fs.truncateSync(log, size - 3);
    const back = await reopen(dir);
    expect(back.entries.map((e) => e.sn)).toEqual([1, 2]);
    const valid = fs.statSync(log).size;
    expect(valid).toBeLessThan(size - 3); // the partial record is gone from the file too
    await writeAll(dir, [[{ kind: 'entry', entry: entry(3, 2) }]]);
    expect((await reopen(dir)).entries).toEqual([entry(1), entry(2), entry(3, 2)]);
  });

  it('preallocates zeros after the records (fsync on), which a crash leaves and recovery cuts away', async () => {
    const dir = tmp();
    const log = path.join(dir, LOG_FILE);
    const batches = [[{ kind: 'config', config: cfg(1) } as const, ...entries(1, 3)], entries(4, 9), [{ kind: 'commit', sn: 9 } as const]];
    const d = await openOne(dir);
    for (const b of batches) await d.write(b);
    // The file as a crash would leave it: the records, then the zero tail.
    const crashed = fs.readFileSync(log);
    expect(d.stats.appends).toBe(3);
    await d.close();
    const clean = fs.statSync(log).size;
    expect(crashed.length).toBeGreaterThan(clean);
    expect(crashed.subarray(clean).every((b) => b === 0)).toBe(true);
    fs.writeFileSync(log, crashed);
    // A torn last append inside the preallocated region: a prefix of its bytes, zeros after.
    const torn = Buffer.from(crashed);
    torn.fill(0, clean - 5);
    for (const image of [crashed, torn]) {
      fs.writeFileSync(log, image);
      const back = await reopen(dir);
      expect(back).toEqual(reference(image === torn ? batches.slice(0, 2) : batches));
      if (image === torn) expect(back.commit).toBe(0);
    }
    // And the log takes more after recovery.
    await writeAll(dir, [entries(10, 10)]);
    expect((await reopen(dir)).entries.map((e) => e.sn)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('treats garbage after the last fsynced append as a torn tail', async () => {
    const dir = tmp();
    await writeAll(dir, [entries(1, 2)]);
    fs.appendFileSync(path.join(dir, LOG_FILE), Buffer.from([0, 0, 0, 40, 1, 2, 3, 4, 5, 0, 0]));
    expect((await reopen(dir)).entries.map((e) => e.sn)).toEqual([1, 2]);
  });

  /** Flip a byte inside entry `sn`'s body (its request id). */
  function damage(dir: string, sn: number): void {
    const log = path.join(dir, LOG_FILE);
    const bytes = fs.readFileSync(log);
    const at = bytes.indexOf(`r${sn}.1`);
    expect(at).toBeGreaterThan(0);
    bytes[at] ^= 0xff;
    fs.writeFileSync(log, bytes);
  }

  it('refuses a log whose damaged record is followed by acknowledged appends', async () => {
    const dir = tmp();
    await writeAll(dir, [entries(1, 1), entries(2, 2), entries(3, 3), entries(4, 4)]);
    damage(dir, 2);
    await expect(openOne(dir)).rejects.toThrow(DiskCorruptError);
    await expect(openOne(dir)).rejects.toThrow(/followed by 1 acknowledged append/);
  });

  it('damage in the last append (pages of a crashed write land in any order) reads as a torn tail', async () => {
    const dir = tmp();
    await writeAll(dir, [entries(1, 1), entries(2, 4)]);
    damage(dir, 3);
    // The whole unfinished append goes, entry 2 with it (it was never acknowledged): only whole appends count.
    expect((await reopen(dir)).entries.map((e) => e.sn)).toEqual([1]);
  });

  it('refuses a corrupt checkpoint file and a checkpoint without a log', async () => {
    const dir = tmp();
    await writeAll(dir, [entries(1, 2), [{ kind: 'commit', sn: 2 }, checkpoint(2)]]);
    const cp = path.join(dir, CHECKPOINT_FILE);
    const bytes = fs.readFileSync(cp);
    bytes[bytes.length - 2] ^= 1;
    fs.writeFileSync(cp, bytes);
    await expect(openOne(dir)).rejects.toThrow(/g.checkpoint is corrupt/);
    fs.rmSync(cp);
    await expect(reopen(dir)).rejects.toThrow(/does not belong|continues checkpoint/);
    const dir2 = tmp();
    await writeAll(dir2, [entries(1, 2), [{ kind: 'commit', sn: 2 }, checkpoint(2)]]);
    fs.rmSync(path.join(dir2, LOG_FILE));
    await expect(openOne(dir2)).rejects.toThrow(/replicas.log is missing/);
  });

  it('a crash between the checkpoint file and the new base recovers the state after the checkpoint', async () => {
    const dir = tmp();
    const batches: PersistRecord[][] = [
      [{ kind: 'config', config: cfg(1) }, ...entries(1, 8)],
      [{ kind: 'commit', sn: 6 }, ...entries(9, 9), checkpoint(6), ...entries(10, 10)],
    ];
    // The append after the checkpoint file (the group's new base) never happens: the checkpoint file is new, the records old.
    let armed = false;
    const d = await openOne(dir, {
      onSync: (f) => {
        if (f.endsWith(`${CHECKPOINT_FILE}.tmp`)) armed = true;
        else if (armed && f === path.join(dir, LOG_FILE)) throw new Error('crash');
      },
    });
    await d.write(batches[0]);
    await expect(d.write(batches[1])).rejects.toThrow('crash');
    await d.close();
    const back = await reopen(dir);
    // Everything up to and including the checkpoint record, not the entry after it.
    expect(back).toEqual(reference([batches[0], batches[1].slice(0, -1)]));
    expect(back.checkpoint.sn).toBe(6);
    expect(back.entries.map((e) => e.sn)).toEqual([7, 8, 9]);
    // Recovery wrote the new log: a second open sees a consistent pair.
    expect(await reopen(dir)).toEqual(back);
  });
});

describe('ReplicaLog, one group: group commit and fail-stop', () => {
  it('calls in one turn share one append and one fsync, and resolve in call order', async () => {
    const dir = tmp();
    const d = await openOne(dir);
    const syncsAtOpen = d.stats.syncs;
    const order: number[] = [];
    await Promise.all(Array.from({ length: 64 }, (_, i) => d.write([{ kind: 'entry', entry: entry(i + 1) }]).then(() => order.push(i))));
    expect(order).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect(d.stats.appends).toBe(1);
    expect(d.stats.syncs - syncsAtOpen).toBe(1);
    await d.close();
    expect((await reopen(dir)).entries).toHaveLength(64);
  });

  it('calls made while an fsync runs are group-committed into the next one', async () => {
    const dir = tmp();
    const late: Promise<void>[] = [];
    const order: string[] = [];
    let d: OneGroup | null = null;
    let first = true;
    d = await openOne(dir, {
      onSync: (f) => {
        if (!f.endsWith(LOG_FILE) || !first) return;
        first = false;
        // The first flush is fsyncing: these arrive meanwhile.
        for (let i = 0; i < 10; i++) late.push(d!.write([{ kind: 'entry', entry: entry(2 + i) }]).then(() => void order.push(`late${i}`)));
      },
    });
    const syncsAtOpen = d.stats.syncs;
    await d.write([{ kind: 'entry', entry: entry(1) }]).then(() => void order.push('first'));
    await Promise.all(late);
    expect(order).toEqual(['first', ...Array.from({ length: 10 }, (_, i) => `late${i}`)]);
    expect(d.stats.appends).toBe(2);
    expect(d.stats.syncs - syncsAtOpen).toBe(2);
    await d.close();
    expect((await reopen(dir)).entries.map((e) => e.sn)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('a failed fsync rejects every waiting call and every later one', async () => {
    const dir = tmp();
    let fail = false;
    const d = await openOne(dir, {
      onSync: () => {
        if (fail) throw new Error('EIO: injected');
      },
    });
    await d.write(entries(1, 1));
    fail = true;
    const results = await Promise.allSettled([d.write(entries(2, 2)), d.write(entries(3, 3)), d.write(entries(4, 4))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    fail = false;
    await expect(d.write(entries(5, 5))).rejects.toThrow('EIO: injected');
    await d.close();
    // Only what was acknowledged is promised; the unsynced appends may or may not be there.
    expect((await reopen(dir)).entries.map((e) => e.sn).slice(0, 1)).toEqual([1]);
  });

  it('a record out of sequence fails the call and stops the disk', async () => {
    const d = await openOne(tmp());
    await expect(d.write(entries(2, 2))).rejects.toThrow(/entry 2 after end 0/);
    await expect(d.write(entries(1, 1))).rejects.toThrow(/entry 2 after end 0/);
    await d.close();
    await expect(d.write(entries(1, 1))).rejects.toThrow();
  });
});

// ------------------------------------------------------------ properties

describe('ReplicaLog, one group: properties against PacificaDisk', () => {
  it('recovers exactly what PacificaDisk holds after the same writes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(intent, { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), async (intents, checkpointEvery) => {
        const batches = toBatches(intents);
        const dir = tmp();
        await writeAll(dir, batches, { fsync: false, checkpointEvery });
        expect(await reopen(dir)).toEqual(reference(batches));
        fs.rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 150 },
    );
  });

  it('after the log is cut at any byte (a crash mid-append), recovers a prefix of the writes and takes more', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(intent, { maxLength: 50 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 12 }),
        async (intents, where, checkpointEvery) => {
          const batches = toBatches(intents);
          const states = prefixStates(batches);
          const dir = tmp();
          const log = path.join(dir, LOG_FILE);
          // A replaced log is written whole before its rename (and the directory fsync after it), and what precedes a
          // checkpoint file was durable before it: a crash can cut only what was appended since the last directory
          // fsync. Note the log's size at each.
          let replaced = 0;
          await writeAll(dir, batches, {
            fsync: false,
            checkpointEvery,
            onSync: (f) => {
              if (f === dir) replaced = fs.statSync(log).size;
            },
          });
          const size = fs.statSync(log).size;
          const cut = replaced + Math.floor(where * (size - replaced));
          fs.truncateSync(log, cut);
          const back = await reopen(dir, { fsync: false, checkpointEvery });
          const k = prefixIndex(states, back);
          expect(k, `recovered state is no prefix of the writes (cut at ${cut} of ${size})`).toBeGreaterThanOrEqual(0);
          if (cut === size) expect(back).toEqual(states[states.length - 1]);
          const extra = more(back);
          await writeAll(dir, [extra], { fsync: false, checkpointEvery });
          expect(await reopen(dir)).toEqual(reference([batches.flat().slice(0, k), extra]));
          fs.rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 80 },
    );
  });

  it('a failure at any fsync (a crash there) leaves a prefix including every acknowledged write', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(intent, { maxLength: 40 }), fc.nat(30), async (intents, failAt) => {
        const batches = toBatches(intents);
        const states = prefixStates(batches);
        const dir = tmp();
        let syncs = 0;
        // onSync runs at every durability point also with fsync off (a crash does not need a real fsync).
        const d = await openOne(dir, {
          fsync: false,
          checkpointEvery: 4,
          onSync: () => {
            if (++syncs > failAt) throw new Error('crash');
          },
        }).catch(() => null);
        let acked = 0;
        if (d !== null) {
          for (const b of batches) {
            try {
              await d.write(b);
            } catch {
              break;
            }
            acked += b.length;
          }
          await d.close();
        }
        if (d === null && !fs.existsSync(path.join(dir, LOG_FILE))) return; // the crash came before the directory existed
        const back = await reopen(dir, { fsync: false });
        const k = prefixIndex(states, back);
        expect(k).toBeGreaterThanOrEqual(0);
        expect(k).toBeGreaterThanOrEqual(acked);
        fs.rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 100 },
    );
  });
});

// ------------------------------------------------------------ several groups in one log

const GROUPS = ['g0', 'g1', 'g2'];

/** Each group's batches, and an interleaving: the order (by group index) in which their batches are written. */
const multi = fc.record({
  intents: fc.tuple(...GROUPS.map(() => fc.array(intent, { maxLength: 30 }))),
  order: fc.array(fc.nat(GROUPS.length - 1), { maxLength: 200 }),
  // After a write, wait for it (and everything before) or not: writes not waited for share a flush.
  waits: fc.array(fc.boolean(), { maxLength: 200 }),
});

/** The writes of every group, interleaved: the order's picks first, then what is left, group by group. */
function interleave(batches: readonly PersistRecord[][][], order: readonly number[]): { group: number; batch: PersistRecord[] }[] {
  const next = batches.map(() => 0);
  const out: { group: number; batch: PersistRecord[] }[] = [];
  for (const g of [...order, ...batches.flatMap((b, g) => b.map(() => g))]) {
    if (next[g] >= batches[g].length) continue;
    out.push({ group: g, batch: batches[g][next[g]++] });
  }
  return out;
}

/** Write them all through one log; the records of each group that were acknowledged. */
async function writeInterleaved(log: ReplicaLog, writes: readonly { group: number; batch: PersistRecord[] }[], waits: readonly boolean[]): Promise<number[]> {
  const stores = GROUPS.map((g) => log.replica(g));
  const acked = GROUPS.map(() => 0);
  let inFlight: Promise<void>[] = [];
  let failed = false;
  for (const [i, w] of writes.entries()) {
    inFlight.push(
      stores[w.group].write(w.batch).then(
        () => void (acked[w.group] += w.batch.length),
        () => void (failed = true),
      ),
    );
    if (waits[i] ?? true) {
      await Promise.all(inFlight);
      inFlight = [];
      if (failed) break;
    }
  }
  await Promise.all(inFlight);
  return acked;
}

async function reopenAll(dir: string, o: ReplicaDiskOptions = {}): Promise<ReplicaDiskState[]> {
  const log = await ReplicaLog.open(dir, o);
  const states = GROUPS.map((g) => log.replica(g).state);
  await log.close();
  return states;
}

describe('ReplicaLog, several groups', () => {
  it('writes of different groups in one turn share one append, and each group reads back its own', async () => {
    const dir = tmp();
    const log = await ReplicaLog.open(dir);
    const stores = GROUPS.map((g) => log.replica(g));
    const syncsAtOpen = log.stats.syncs;
    await Promise.all(stores.flatMap((s, g) => Array.from({ length: 20 }, (_, i) => s.write([{ kind: 'entry', entry: entry(i + 1, g + 1) }]))));
    expect(log.stats.appends).toBe(1);
    expect(log.stats.syncs - syncsAtOpen).toBe(1);
    await log.close();
    const back = await reopenAll(dir);
    for (const [g, s] of back.entries()) expect(s.entries).toEqual(Array.from({ length: 20 }, (_, i) => entry(i + 1, g + 1)));
    const again = await ReplicaLog.open(dir);
    expect(again.groupNames()).toEqual(GROUPS);
    // A group the log never saw starts empty.
    expect(again.replica('g9').state).toEqual(EMPTY_DISK);
    await again.close();
  });

  it('hands out one store per group, and refuses group names that cannot be file names', async () => {
    const log = await ReplicaLog.open(tmp());
    log.replica('g0');
    expect(() => log.replica('g0')).toThrow(/already taken/);
    expect(() => log.replica('../x')).toThrow(/bad group name/);
    await expect(log.write('a b', entries(1, 1))).rejects.toThrow(/bad group name/);
    await log.close();
  });

  it('refuses a directory in the old layout (one log per replica), which it would otherwise read as empty', async () => {
    const dir = tmp();
    fs.mkdirSync(path.join(dir, 'g0'));
    fs.writeFileSync(path.join(dir, 'g0', 'replica.log'), 'x');
    await expect(ReplicaLog.open(dir)).rejects.toThrow(/old layout/);
  });

  it('a checkpoint of one group leaves the others alone, also across a crash before its new base', async () => {
    const dir = tmp();
    let armed = false;
    const log = await ReplicaLog.open(dir, {
      onSync: (f) => {
        if (f.endsWith(`${checkpointFileOf('g1')}.tmp`)) armed = true;
        else if (armed && f === path.join(dir, LOG_FILE)) throw new Error('crash');
      },
    });
    const [g0, g1] = [log.replica('g0'), log.replica('g1')];
    await Promise.all([g0.write(entries(1, 5)), g1.write([...entries(1, 5), { kind: 'commit', sn: 4 }])]);
    // g0's write shares the flush whose last append fails (after g1's checkpoint file): not acknowledged.
    const results = await Promise.allSettled([g1.write([checkpoint(4), ...entries(6, 6)]), g0.write(entries(6, 6))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await log.close();
    const back = await ReplicaLog.open(dir);
    expect(back.replica('g0').state.entries.map((e) => e.sn)).toEqual([1, 2, 3, 4, 5]);
    const s1 = back.replica('g1').state;
    expect(s1.checkpoint.sn).toBe(4);
    expect(s1.entries.map((e) => e.sn)).toEqual([5]);
    expect(back.stats.rewrites).toBe(1); // recovery wrote g1's new base (a rewrite of the log)
    await back.close();
    expect((await reopenAll(dir)).slice(0, 2)).toEqual([reference([entries(1, 5)]), s1]);
  });

  it('a crash anywhere in the append after a checkpoint file keeps the entries that append repeats', async () => {
    // The group's new base is followed by its image (commit 2, entry 2): a torn append holding the base but not
    // the entry must not replace the old records that hold entry 2 durably (found by the property below).
    const dir = tmp();
    const file = path.join(dir, LOG_FILE);
    let atCheckpoint = 0;
    const log = await ReplicaLog.open(dir, {
      fsync: false,
      onSync: (f) => void (f.endsWith(`${checkpointFileOf('g0')}.tmp`) && (atCheckpoint = fs.statSync(file).size)),
    });
    const batch: PersistRecord[] = [...entries(1, 2), { kind: 'commit', sn: 2 }, checkpoint(1)];
    await log.replica('g0').write(batch);
    await log.close();
    const full = fs.readFileSync(file);
    expect(atCheckpoint).toBeGreaterThan(0);
    for (let cut = atCheckpoint; cut <= full.length; cut++) {
      fs.writeFileSync(file, full.subarray(0, cut));
      const back = await reopenAll(dir);
      expect(back[0], `cut at ${cut}`).toEqual(reference([batch]));
    }
  });

  it('recovers exactly what PacificaDisk holds for every group, however their writes interleave', async () => {
    await fc.assert(
      fc.asyncProperty(multi, fc.integer({ min: 1, max: 8 }), async ({ intents, order, waits }, checkpointEvery) => {
        const batches = intents.map(toBatches);
        const dir = tmp();
        const log = await ReplicaLog.open(dir, { fsync: false, checkpointEvery });
        await writeInterleaved(log, interleave(batches, order), waits);
        await log.close();
        expect(await reopenAll(dir)).toEqual(batches.map(reference));
        fs.rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 120 },
    );
  });

  it('after the log is cut at any byte, every group recovers a prefix of its writes and takes more', async () => {
    await fc.assert(
      fc.asyncProperty(
        multi,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 8 }),
        async ({ intents, order, waits }, where, checkpointEvery) => {
          const batches = intents.map(toBatches);
          const states = batches.map(prefixStates);
          const dir = tmp();
          const file = path.join(dir, LOG_FILE);
          let durable = 0; // the log's size at the last directory fsync (see the one-group property)
          const log = await ReplicaLog.open(dir, { fsync: false, checkpointEvery, onSync: (f) => void (f === dir && (durable = fs.statSync(file).size)) });
          await writeInterleaved(log, interleave(batches, order), waits);
          await log.close();
          const size = fs.statSync(file).size;
          const cut = durable + Math.floor(where * (size - durable));
          fs.truncateSync(file, cut);
          const back = await reopenAll(dir, { fsync: false, checkpointEvery });
          const ks = back.map((s, g) => prefixIndex(states[g], s));
          for (const [g, k] of ks.entries()) {
            expect(k, `${GROUPS[g]}: recovered state is no prefix of its writes (cut at ${cut} of ${size})`).toBeGreaterThanOrEqual(0);
            if (cut === size) expect(back[g]).toEqual(states[g][states[g].length - 1]);
          }
          const extra = back.map(more);
          const again = await ReplicaLog.open(dir, { fsync: false, checkpointEvery });
          await Promise.all(GROUPS.map((g, i) => again.replica(g).write(extra[i])));
          await again.close();
          expect(await reopenAll(dir)).toEqual(batches.map((b, g) => reference([b.flat().slice(0, ks[g]), extra[g]])));
          fs.rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a failure at any fsync leaves every group a prefix including each of its acknowledged writes', async () => {
    await fc.assert(
      fc.asyncProperty(multi, fc.nat(30), async ({ intents, order, waits }, failAt) => {
        const batches = intents.map(toBatches);
        const states = batches.map(prefixStates);
        const dir = tmp();
        let syncs = 0;
        const log = await ReplicaLog.open(dir, {
          fsync: false,
          checkpointEvery: 3,
          onSync: () => {
            if (++syncs > failAt) throw new Error('crash');
          },
        }).catch(() => null);
        let acked = GROUPS.map(() => 0);
        if (log !== null) {
          acked = await writeInterleaved(log, interleave(batches, order), waits);
          await log.close();
        }
        if (log === null && !fs.existsSync(path.join(dir, LOG_FILE))) return; // the crash came before the log existed
        const back = await reopenAll(dir, { fsync: false });
        for (const [g, s] of back.entries()) {
          const k = prefixIndex(states[g], s);
          expect(k, `${GROUPS[g]}: no prefix`).toBeGreaterThanOrEqual(0);
          expect(k, `${GROUPS[g]}: lost acknowledged records`).toBeGreaterThanOrEqual(acked[g]);
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 100 },
    );
  });
});
