// The power shim on real processes: a Node program (Node -> libuv -> glibc,
// as the reference system's nodes write) and a C program make writes, sync
// some of them and die of SIGKILL; after `rollBack` each file must be
// exactly its last durable state: what was fsynced, fdatasynced or written
// through O_DSYNC, nothing else. The C compiler is on this machine and in CI
// (.ci/run installs gcc).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { powerEnv, powerShim, rollBack } from '../../nemesis/power.js';

type Op =
  | { op: 'write'; file: number; off: number; hex: string }
  | { op: 'append'; file: number; hex: string }
  | { op: 'writev'; file: number; off: number; hex: string[] }
  | { op: 'dsync-write'; file: number; off: number; hex: string }
  | { op: 'truncate'; file: number; len: number }
  | { op: 'fsync'; file: number }
  | { op: 'fdatasync'; file: number }
  | { op: 'replace'; file: number; hex: string }
  | { op: 'unlink'; file: number };

// Opens each file three ways (plain, O_APPEND, O_DSYNC), runs the ops, then SIGKILLs itself.
const WRITER = `
const fs = require('node:fs');
const [files, ops] = JSON.parse(process.argv[1]);
const C = fs.constants;
const fds = files.map((f) => ({
  plain: fs.openSync(f, C.O_RDWR | C.O_CREAT),
  append: fs.openSync(f, C.O_WRONLY | C.O_APPEND),
  dsync: fs.openSync(f, C.O_WRONLY | C.O_DSYNC),
}));
const b = (hex) => Buffer.from(hex, 'hex');
for (const o of ops) {
  const f = fds[o.file];
  switch (o.op) {
    case 'write': fs.writeSync(f.plain, b(o.hex), 0, o.hex.length / 2, o.off); break;
    case 'append': fs.writeSync(f.append, b(o.hex)); break;
    case 'writev': fs.writevSync(f.plain, o.hex.map(b), o.off); break;
    case 'dsync-write': fs.writeSync(f.dsync, b(o.hex), 0, o.hex.length / 2, o.off); break;
    case 'truncate': fs.ftruncateSync(f.plain, o.len); break;
    case 'fsync': fs.fsyncSync(f.plain); break;
    case 'fdatasync': fs.fdatasyncSync(f.append); break;
    case 'replace': { const tmp = files[o.file] + '.tmp'; fs.writeFileSync(tmp, b(o.hex)); const fd = fs.openSync(tmp, 'r'); fs.fsyncSync(fd); fs.closeSync(fd); fs.renameSync(tmp, files[o.file]); break; }
    case 'unlink': fs.unlinkSync(files[o.file]); break;
  }
}
process.kill(process.pid, 'SIGKILL');
`;

// write + fsync, then a pwrite over synced bytes, an O_DSYNC write, a writev and an ftruncate, then SIGKILL.
const C_WRITER = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
  write(fd, "synced|", 7);
  fsync(fd);
  pwrite(fd, ".....", 5, 6);
  int ds = open(argv[1], O_WRONLY | O_DSYNC);
  pwrite(ds, "DS", 2, 7);
  struct iovec v[2] = {{"LO", 2}, {"ST", 2}};
  pwritev(fd, v, 2, 11);
  ftruncate(fd, 20);
  ftruncate(fd, 15);
  kill(getpid(), SIGKILL);
  return 0;
}
`;

/** The files' durable contents after `ops`, from durable contents `initial`. */
function model(initial: Buffer[], ops: readonly Op[]): Buffer[] {
  const current: Buffer[] = initial.map((b) => Buffer.from(b));
  const durable: Buffer[] = initial.map((b) => Buffer.from(b));
  const put = (buf: Buffer, off: number, data: Buffer): Buffer => {
    const out = Buffer.alloc(Math.max(buf.length, off + data.length));
    buf.copy(out);
    data.copy(out, off);
    return out;
  };
  const cut = (buf: Buffer, len: number) => (len <= buf.length ? Buffer.from(buf.subarray(0, len)) : Buffer.concat([buf, Buffer.alloc(len - buf.length)]));
  for (const o of ops) {
    const i = o.file;
    switch (o.op) {
      case 'write':
        current[i] = put(current[i], o.off, Buffer.from(o.hex, 'hex'));
        break;
      case 'append':
        current[i] = put(current[i], current[i].length, Buffer.from(o.hex, 'hex'));
        break;
      case 'writev':
        current[i] = put(current[i], o.off, Buffer.from(o.hex.join(''), 'hex'));
        break;
      case 'dsync-write':
        current[i] = put(current[i], o.off, Buffer.from(o.hex, 'hex'));
        durable[i] = put(durable[i], o.off, Buffer.from(o.hex, 'hex'));
        break;
      case 'truncate':
        current[i] = cut(current[i], o.len);
        break;
      case 'fsync':
      case 'fdatasync':
        durable[i] = Buffer.from(current[i]);
        break;
      default:
        throw new Error(`the model has no ${o.op}`);
    }
  }
  return durable;
}

let lib: string;
let dir: string;
let n = 0;

beforeAll(async () => {
  lib = await powerShim();
  dir = mkdtempSync(join(tmpdir(), 'undertow-power-test-'));
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `ops` under the shim on files holding `initial`, kills it, rolls back; the files' contents and the roll-back summary. */
function powerFail(initial: Buffer[], ops: readonly Op[]) {
  const at = join(dir, `case-${n++}`);
  const data = join(at, 'data');
  const journal = join(at, 'power');
  mkdirSync(data, { recursive: true });
  mkdirSync(journal);
  const files = initial.map((_, i) => join(data, `f${i}`));
  initial.forEach((b, i) => writeFileSync(files[i], b));
  const r = spawnSync(process.execPath, ['-e', WRITER, JSON.stringify([files, ops])], {
    env: { ...process.env, ...powerEnv({ library: lib, journalDir: journal, root: data }) },
    encoding: 'utf8',
  });
  expect(r.signal, r.stderr).toBe('SIGKILL');
  const rolled = rollBack(journal, data);
  const after = files.map((f) => (existsSync(f) ? readFileSync(f) : null));
  rmSync(at, { recursive: true, force: true });
  return { after, rolled, journalsLeft: existsSync(journal) ? readdirSync(journal).length : 0 };
}

const hex = (s: string) => Buffer.from(s).toString('hex');

describe('the power shim (LD_PRELOAD) on programs killed with SIGKILL', () => {
  it('keeps what was fsynced and drops what was written after', () => {
    const { after, rolled, journalsLeft } = powerFail(
      [Buffer.alloc(0)],
      [
        { op: 'append', file: 0, hex: hex('synced|') },
        { op: 'fsync', file: 0 },
        { op: 'append', file: 0, hex: hex('lost') },
      ],
    );
    expect(after[0]?.toString()).toBe('synced|');
    expect(rolled.files).toEqual(['f0']);
    expect(rolled.undone).toBe(4);
    expect(journalsLeft).toBe(0);
  });

  it('puts back the old bytes under an unsynced pwrite, and the old size after an unsynced ftruncate', () => {
    const { after } = powerFail(
      [Buffer.from('0123456789')],
      [
        { op: 'write', file: 0, off: 2, hex: hex('ab') },
        { op: 'truncate', file: 0, len: 4 },
        { op: 'write', file: 0, off: 8, hex: hex('XYZW') },
      ],
    );
    expect(after[0]?.toString()).toBe('0123456789');
  });

  it('keeps O_DSYNC writes, also over bytes an older unsynced write changed, and an fsync of one file leaves the other unsynced', () => {
    const { after, rolled } = powerFail(
      [Buffer.from('aaaaaaaa'), Buffer.from('bbbb')],
      [
        { op: 'write', file: 0, off: 0, hex: hex('XXXX') },
        { op: 'dsync-write', file: 0, off: 2, hex: hex('DD') },
        { op: 'write', file: 0, off: 3, hex: hex('YYYYYYY') },
        { op: 'write', file: 1, off: 0, hex: hex('cc') },
        { op: 'fsync', file: 1 },
        { op: 'append', file: 1, hex: hex('zz') },
      ],
    );
    expect(after[0]?.toString()).toBe('aaDDaaaa');
    expect(after[1]?.toString()).toBe('ccbb');
    expect(rolled.redone).toBe(1);
  });

  it('leaves a file with nothing unsynced alone: O_DSYNC appends alone journal nothing', () => {
    const { after, rolled } = powerFail(
      [Buffer.from('x')],
      [
        { op: 'dsync-write', file: 0, off: 1, hex: hex('yz') },
        { op: 'dsync-write', file: 0, off: 3, hex: hex('!') },
      ],
    );
    expect(after[0]?.toString()).toBe('xyz!');
    expect(rolled.files).toEqual([]);
  });

  it('a file unlinked or replaced by a rename drops its unsynced records with it: none can reach a later file with its inode number', () => {
    const { after, rolled } = powerFail(
      [Buffer.from('old0'), Buffer.from('old1')],
      [
        { op: 'write', file: 0, off: 0, hex: hex('XYZ') },
        { op: 'replace', file: 0, hex: hex('new!') },
        { op: 'append', file: 1, hex: hex('gone') },
        { op: 'unlink', file: 1 },
      ],
    );
    expect(after[0]?.toString()).toBe('new!');
    expect(after[1]).toBeNull();
    expect(rolled).toMatchObject({ files: [], gone: 0 });
  });

  it('a C program (write, pwrite, writev, ftruncate through glibc) keeps what it fsynced and its O_DSYNC write, and nothing else', () => {
    const at = join(dir, `c-${n++}`);
    mkdirSync(join(at, 'data'), { recursive: true });
    mkdirSync(join(at, 'power'));
    writeFileSync(join(at, 'writer.c'), C_WRITER);
    const cc = spawnSync('cc', ['-O1', '-o', join(at, 'writer'), join(at, 'writer.c')], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    const file = join(at, 'data', 'f');
    const r = spawnSync(join(at, 'writer'), [file], {
      env: { ...process.env, ...powerEnv({ library: lib, journalDir: join(at, 'power'), root: join(at, 'data') }) },
      encoding: 'utf8',
    });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    expect(readFileSync(file, 'utf8')).toBe('synced.DS..LOST');
    const rolled = rollBack(join(at, 'power'), join(at, 'data'));
    expect(rolled.files).toEqual(['f']);
    expect(readFileSync(file, 'utf8')).toBe('synced|DS');
  });

  it('any sequence of writes, appends, truncations and syncs on two files ends at the durable state of a model', () => {
    const bytes = fc.uint8Array({ minLength: 1, maxLength: 12 }).map((a) => Buffer.from(a).toString('hex'));
    const file = fc.integer({ min: 0, max: 1 });
    const off = fc.integer({ min: 0, max: 40 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), file, off, hex: bytes }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('append' as const), file, hex: bytes }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('writev' as const), file, off, hex: fc.array(bytes, { minLength: 1, maxLength: 3 }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('dsync-write' as const), file, off, hex: bytes }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), file, len: fc.integer({ min: 0, max: 50 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('fsync' as const), file }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('fdatasync' as const), file }) },
    );
    const initial = fc.array(
      fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a)),
      { minLength: 2, maxLength: 2 },
    );
    fc.assert(
      fc.property(initial, fc.array(op, { maxLength: 25 }), (init, ops) => {
        const { after, journalsLeft } = powerFail(init, ops);
        const want = model(init, ops);
        expect(after.map((b) => b?.toString('hex'))).toEqual(want.map((b) => b.toString('hex')));
        expect(journalsLeft).toBe(0);
      }),
      { numRuns: 40 },
    );
  }, 240_000);
});
