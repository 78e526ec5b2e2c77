// Data plane end to end (real processes): every operation, definite failures.

import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../../system-under-test/wire/frame.js';
import { groupOf } from '../../../system-under-test/client/index.js';
import { eventually, kvCluster } from './kv-cluster.js';

describe('undertow-node data: operations', () => {
  it('write, read, cas, append, transfer and read-many work; a cas on another value and an overdraft fail definitely', async () => {
    const c = await kvCluster();
    const kv = c.client({ timeoutMs: 3000 });
    await eventually('a first write', () => kv.write('x', 1), 30_000);
    expect(await kv.read('x')).toEqual({ type: 'ok', value: 1 });
    expect(await kv.read('never-written')).toEqual({ type: 'ok', value: null });
    expect(await kv.cas('x', 1, 2)).toEqual({ type: 'ok' });
    expect(await kv.cas('x', 1, 3)).toEqual({ type: 'fail', error: 'cas-mismatch' });
    expect(await kv.read('x')).toEqual({ type: 'ok', value: 2 });
    expect(await kv.cas('fresh', null, 'a')).toEqual({ type: 'ok' });
    expect(await kv.read('fresh')).toEqual({ type: 'ok', value: 'a' });
    // Reads may be retried freely: wait until the list's group serves, then append exactly once each.
    expect(await eventually('the list group serving', () => kv.read('list'), 20_000)).toEqual({ type: 'ok', value: null });
    for (const v of [1, 2, 3]) expect(await kv.append('list', v)).toEqual({ type: 'ok' });
    expect(await kv.read('list')).toEqual({ type: 'ok', value: [1, 2, 3] });

    // Bank: keys sharing a {tag} share a group.
    expect(await eventually('deposit', () => kv.write('{bank}a', 10), 10_000)).toEqual({ type: 'ok' });
    expect(await kv.transfer('{bank}a', '{bank}b', 4)).toEqual({ type: 'ok' });
    expect(await kv.transfer('{bank}a', '{bank}b', 7)).toEqual({ type: 'fail', error: 'insufficient' });
    expect(await kv.transfer('{bank}b', '{bank}c', 4)).toEqual({ type: 'ok' });
    expect(await kv.readMany(['{bank}a', '{bank}b', '{bank}c', '{bank}d'])).toEqual({
      type: 'ok',
      value: { '{bank}a': 6, '{bank}b': 0, '{bank}c': 4, '{bank}d': null },
    });

    // Keys of different groups cannot be transferred between: a definite failure, nothing sent.
    const far = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'].find((k) => groupOf(k, 3) !== groupOf('x', 3))!;
    expect(await kv.transfer('x', far, 1)).toEqual({ type: 'fail', error: 'keys-span-groups' });
    expect(await kv.readMany(['x', far])).toEqual({ type: 'fail', error: 'keys-span-groups' });

    // Other clients see the same state.
    const other = c.client();
    expect(await other.read('x')).toEqual({ type: 'ok', value: 2 });

    // Garbage never stops a data server: bytes that are not frames, and well-framed nonsense from
    // a peer's name (a prepare with holes in its entries, a prepare without a configuration).
    const prepare = {
      kind: 'prepare',
      group: 'g0',
      config: { version: 99, primary: 'd2', secondaries: ['d1'] },
      prevSn: 0,
      prevVersion: 0,
      commit: 5,
      sentAt: 1,
      checkpoint: null,
    };
    for (const id of c.dataIds) {
      const [host, port] = c.addr[id].split(':');
      const bad = [
        Buffer.from('GET / HTTP/1.0\r\n\r\n'),
        encodeFrame({
          kind: 'json',
          value: { e: [{ from: 'd2', to: id, msg: { ...prepare, entries: [{ sn: 5, version: 99, id: 'x', op: { f: 'write', key: 'k', value: 1 } }] } }] },
        }),
        encodeFrame({ kind: 'json', value: { e: [{ from: 'd3', to: id, msg: { ...prepare, config: null, entries: [] } }] } }),
        encodeFrame({
          kind: 'json',
          value: { e: [{ from: 'client-x', to: id, msg: { kind: 'request', group: 'g0', id: 'r', version: 1, op: { f: 'transfer', from: 'a' } } }] },
        }),
      ];
      for (const b of bad) {
        await new Promise<void>((resolve) => {
          const s = net.connect({ host, port: Number(port) }, () => s.end(b));
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          s.setTimeout(1000, () => s.destroy()); // a server may keep a half-closed connection open
        });
      }
    }
    for (const k of ['x', 'fresh', 'list']) expect((await kv.read(k)).type, k).toBe('ok');
    expect(await kv.write('x', 3)).toEqual({ type: 'ok' });
    expect(c.procs.size).toBe(3);
    for (const p of c.procs.values()) expect(p.exitCode).toBeNull();
    for (const id of c.dataIds) {
      const log = c.tail(id, 5000).join('\n');
      expect(log).toContain('"event":"bad-frame"');
      expect(log).toContain('"event":"bad-message"');
      expect(log).not.toContain('"event":"fatal"');
    }
  }, 90_000);
});
