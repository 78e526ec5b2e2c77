// `undertow-node data` arguments: parsed into server options; bad ones give one
// clear line and exit 254 (checked on the real program too).

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PACIFICA_BUGS } from '../../../system-under-test/pacifica/types.js';
import { UsageError, parseDataArgs } from '../../../system-under-test/runtime/main.js';
import { PROGRAM, ROOT } from './kv-cluster.js';

const base = [
  '--id',
  'd1',
  '--listen',
  '127.0.0.1:8001',
  '--cm',
  '127.0.0.1:7001,127.0.0.1:7002',
  '--data',
  '/tmp/d1',
  '--servers',
  'd1,d2,d3',
  '--groups',
  '6',
  '--replication',
  '3',
];

describe('undertow-node data arguments', () => {
  it('parses a data server, with defaults and every seeded bug', () => {
    expect(parseDataArgs([...base, ...PACIFICA_BUGS.flatMap((b) => ['--bug', b])])).toEqual({
      id: 'd1',
      listen: '127.0.0.1:8001',
      cm: ['127.0.0.1:7001', '127.0.0.1:7002'],
      dataDir: '/tmp/d1',
      servers: ['d1', 'd2', 'd3'],
      groups: 6,
      replication: 3,
      leaseMs: 1000,
      graceMs: 1500,
      beaconMs: 200,
      tickMs: 20,
      pollMs: 150,
      checkpointEvery: 5000,
      fsync: true,
      bugs: new Set(PACIFICA_BUGS),
    });
    expect(parseDataArgs([...base, '--lease-ms', '400', '--grace-ms', '600', '--beacon-ms', '50', '--no-fsync'])).toMatchObject({
      leaseMs: 400,
      graceMs: 600,
      beaconMs: 50,
      fsync: false,
    });
  });

  it('rejects bad arguments with one clear message', () => {
    const bad: [string[], RegExp][] = [
      [base.slice(2), /missing --id/],
      [[...base, '--bug', 'nope'], /unknown --bug nope/],
      [[...base, '--bug', 'vote-twice'], /unknown --bug vote-twice/],
      [['--id', 'd9', ...base.slice(2)], /--servers must include this server \(d9\)/],
      [[...base.slice(0, 10), '--groups', 'many', ...base.slice(12)], /--groups must be an integer/],
      [[...base.slice(0, 12), '--replication', '4'], /--replication 4 exceeds the 3 servers/],
      [[...base, '--lease-ms', '1000', '--grace-ms', '500'], /--grace-ms 500 must be >= --lease-ms 1000/],
      [[...base, '--cm', 'nowhere'], /--cm: bad address/],
    ];
    for (const [args, msg] of bad) expect(() => parseDataArgs(args)).toThrow(msg);
    expect(() => parseDataArgs(base.slice(2))).toThrow(UsageError);
  });

  it('the program exits 254 with one line on an unknown --bug', () => {
    const r = spawnSync(PROGRAM[0], [...PROGRAM.slice(1), 'data', ...base, '--bug', 'no-such-bug'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(254);
    const first = r.stderr.split('\n')[0];
    expect(first).toContain('unknown --bug no-such-bug');
    expect(first).toContain('read-without-lease');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 60_000);
});
