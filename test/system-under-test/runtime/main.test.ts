import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError, parseAdminArgs, parseCmArgs } from '../../../system-under-test/runtime/main.js';

const base = ['--id', 'n1', '--listen', '127.0.0.1:7001', '--peers', 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003', '--data', '/tmp/x'];

describe('undertow-node arguments', () => {
  it('parses a cm node', () => {
    expect(parseCmArgs([...base, '--bug', 'vote-twice', '--bug', 'cm-no-version-check', '--tick-ms', '20'])).toEqual({
      id: 'n1',
      listen: '127.0.0.1:7001',
      peers: { n1: '127.0.0.1:7001', n2: '127.0.0.1:7002', n3: '127.0.0.1:7003' },
      dataDir: '/tmp/x',
      join: false,
      tickMs: 20,
      electionTicks: 10,
      heartbeatTicks: 2,
      compactEvery: 1000,
      bugs: new Set(['vote-twice', 'cm-no-version-check']),
    });
  });

  it('reads a config file; flags override it', () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-cfg-')), 'n2.json');
    fs.writeFileSync(
      f,
      JSON.stringify({ id: 'n2', listen: '127.0.0.1:7002', peers: { n1: '127.0.0.1:7001', n2: '127.0.0.1:7002' }, data: '/tmp/y', electionTicks: 20 }),
    );
    expect(parseCmArgs(['--config', f, '--tick-ms', '5'])).toMatchObject({
      id: 'n2',
      peers: { n1: '127.0.0.1:7001', n2: '127.0.0.1:7002' },
      electionTicks: 20,
      tickMs: 5,
      dataDir: '/tmp/y',
    });
    fs.rmSync(path.dirname(f), { recursive: true });
  });

  it('rejects bad cm arguments with one clear message', () => {
    const bad: [string[], RegExp][] = [
      [base.slice(2), /missing --id/],
      [[...base, '--bug', 'nope'], /unknown --bug nope/],
      [['--id', 'n9', ...base.slice(2)], /must include this node/],
      [[...base.slice(0, 2), '--listen', 'nowhere', ...base.slice(4)], /--listen: bad address/],
      [[...base, '--tick-ms', 'fast'], /--tick-ms must be an integer/],
      [[...base, '--heartbeat-ticks', '10'], /below --election-ticks/],
      [['--config', '/does/not/exist.json'], /--config/],
    ];
    for (const [args, msg] of bad) expect(() => parseCmArgs(args)).toThrow(msg);
    expect(() => parseCmArgs(base.slice(2))).toThrow(UsageError);
    expect(parseCmArgs(['--id', 'n4', '--listen', '127.0.0.1:7004', '--peers', 'n1=127.0.0.1:7001', '--data', 'd', '--join']).join).toBe(true);
  });

  it('parses admin commands', () => {
    expect(parseAdminArgs(['--cm', '127.0.0.1:7001,127.0.0.1:7002', 'status'])).toEqual({
      addresses: ['127.0.0.1:7001', '127.0.0.1:7002'],
      request: { op: 'status' },
    });
    expect(parseAdminArgs(['--cm', 'h:1', 'add-member', 'n4', '127.0.0.1:7004']).request).toEqual({ op: 'addMember', id: 'n4', address: '127.0.0.1:7004' });
    expect(parseAdminArgs(['--cm', 'h:1', 'remove-member', 'n1']).request).toEqual({ op: 'removeMember', id: 'n1' });
    expect(parseAdminArgs(['--cm', 'h:1', 'get', 'g1']).request).toEqual({ op: 'get', group: 'g1' });
    expect(parseAdminArgs(['--cm', 'h:1', 'reconfigure', 'g1', '3', '{"primary":"d1","secondaries":["d2"]}']).request).toEqual({
      op: 'reconfigure',
      group: 'g1',
      expectedVersion: 3,
      config: { primary: 'd1', secondaries: ['d2'] },
    });
    for (const [args, msg] of [
      [['status'], /missing --cm/],
      [['--cm', 'h:1'], /missing admin command/],
      [['--cm', 'h:1', 'frob'], /unknown admin command frob/],
      [['--cm', 'h:1', 'add-member', 'n4'], /takes 2 argument/],
      [['--cm', 'h:1', 'reconfigure', 'g1', 'x', '{}'], /EXPECTED_VERSION/],
      [['--cm', 'h:1', 'create-groups', '{nope'], /must be JSON/],
    ] as [string[], RegExp][]) {
      expect(() => parseAdminArgs(args)).toThrow(msg);
    }
  });
});
