// KvClient's outcome rules against scripted servers (in-process TCP, the real
// frame format): a fake CM that hands out one configuration, and a fake data
// server whose every answer the test chooses. What matters is honesty: `fail`
// only when the operation certainly did not happen, `info` when an update's
// fate is unknown, and no blind retry of an update.

import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KvClient } from '../../../system-under-test/client/index.js';
import type { Envelope, PMessage } from '../../../system-under-test/pacifica/types.js';
import { FrameDecoder, encodeFrame } from '../../../system-under-test/wire/frame.js';

type Request = Extract<PMessage, { kind: 'request' }>;
/** What the fake data server does with a request: answer with a reply body, or stay silent. */
type Script = (req: Request, n: number) => Partial<Extract<PMessage, { kind: 'reply' }>> | 'silent' | 'close';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(onFrame: (value: unknown, socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    const d = new FrameDecoder();
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.on('data', (chunk: Buffer) => {
      for (const f of d.push(chunk).frames) if (f.kind === 'json') onFrame(f.value, s);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

async function setup(script: Script, opts: { timeoutMs?: number; dataAddress?: string; groups?: number } = {}) {
  const requests: Request[] = [];
  let cmGets = 0;
  let frames = 0;
  const dataPort = await listen((value, socket) => {
    frames++;
    for (const env of (value as { e: Envelope[] }).e) {
      const m = env.msg as Request;
      requests.push(m);
      const a = script(m, requests.length);
      if (a === 'close') socket.destroy();
      if (a === 'close' || a === 'silent') continue;
      const reply: Envelope = { from: 'd1', to: env.from, msg: { kind: 'reply', group: m.group, id: m.id, ok: false, ...a } };
      socket.write(encodeFrame({ kind: 'json', value: { e: [reply] } }));
    }
  });
  const cmPort = await listen((value, socket) => {
    const req = value as { rid: number; op: string };
    cmGets++;
    const groups = Object.fromEntries(Array.from({ length: opts.groups ?? 1 }, (_, i) => [`g${i}`, { version: 7, primary: 'd1', secondaries: [] }]));
    socket.write(
      encodeFrame({
        kind: 'json',
        value: { rid: req.rid, ok: true, groups, servers: { d1: { id: 'd1', address: opts.dataAddress ?? `127.0.0.1:${dataPort}` } } },
      }),
    );
  });
  const kv = new KvClient({ cm: [`127.0.0.1:${cmPort}`], timeoutMs: opts.timeoutMs ?? 800, configLeaseMs: 10_000 });
  cleanups.push(() => kv.close());
  return { kv, requests, cmGets: () => cmGets, frames: () => frames };
}

describe('KvClient outcomes', () => {
  it('ok with the value; the request carries the configuration version', async () => {
    const { kv, requests } = await setup(() => ({ ok: true, value: 5 }));
    expect(await kv.read('x')).toEqual({ type: 'ok', value: 5 });
    expect(requests[0]).toMatchObject({ kind: 'request', group: 'g0', version: 7, op: { f: 'read', key: 'x' } });
  });

  it('definite refusals by the state machine are fail, not retried', async () => {
    const { kv, requests } = await setup(() => ({ error: 'cas-mismatch' }));
    expect(await kv.cas('x', 1, 2)).toEqual({ type: 'fail', error: 'cas-mismatch' });
    expect(requests).toHaveLength(1);
  });

  it('not-primary and stale-version are retried (with a fresh configuration) until ok', async () => {
    const { kv, requests, cmGets } = await setup((_r, n) => (n === 1 ? { error: 'not-primary' } : n === 2 ? { error: 'stale-version' } : { ok: true }));
    expect(await kv.write('x', 1)).toEqual({ type: 'ok' });
    expect(requests).toHaveLength(3);
    expect(cmGets()).toBeGreaterThanOrEqual(3);
  });

  it('only refusals until the timeout: fail (nothing happened)', async () => {
    const { kv, requests } = await setup(() => ({ error: 'not-primary' }), { timeoutMs: 400 });
    const r = await kv.write('x', 1);
    expect(r).toEqual({ type: 'fail', error: 'not-primary' });
    expect(requests.length).toBeGreaterThan(1);
  });

  it('an update with no answer is info and is sent exactly once', async () => {
    const { kv, requests } = await setup(() => 'silent', { timeoutMs: 300 });
    expect(await kv.append('l', 1)).toEqual({ type: 'info', error: 'timeout' });
    expect(requests).toHaveLength(1);
  });

  it('an update whose connection dies after sending is info, sent once', async () => {
    const { kv, requests } = await setup(() => 'close');
    expect((await kv.transfer('{a}x', '{a}y', 1)).type).toBe('info');
    expect(requests).toHaveLength(1);
  });

  it('an update queued on a connection that dies before the queue is written is retried (it never left)', async () => {
    const { kv, requests } = await setup(() => ({ ok: true }));
    expect(await kv.write('warm', 0)).toEqual({ type: 'ok' });
    // The connection dies right after the request is queued, before the tick's write.
    type Conn = { socket: net.Socket; write: (env: Envelope) => boolean };
    const [conn] = [...(kv as unknown as { conns: Map<string, Conn> }).conns.values()];
    const queue = conn.write.bind(conn);
    conn.write = (env) => {
      const queued = queue(env);
      conn.socket.destroy();
      return queued;
    };
    expect(await kv.write('x', 1)).toEqual({ type: 'ok' });
    expect(requests.map((r) => (r.op as { key: string }).key)).toEqual(['warm', 'x']);
  });

  it('a read with no answer is retried, and ends as info if never answered', async () => {
    const { kv, requests } = await setup((_r, n) => (n === 1 ? 'silent' : { ok: true, value: 'v' }), { timeoutMs: 2000 });
    expect(await kv.read('x')).toEqual({ type: 'ok', value: 'v' });
    expect(requests).toHaveLength(2);
  });

  it('abort while waiting: info; aborted before sending: info without a request', async () => {
    const { kv, requests } = await setup(() => 'silent', { timeoutMs: 5000 });
    const ac = new AbortController();
    const p = kv.write('x', 1, ac.signal);
    setTimeout(() => ac.abort(), 100);
    expect(await p).toEqual({ type: 'info', error: 'aborted' });
    expect(requests).toHaveLength(1);
    expect(await kv.write('x', 2, AbortSignal.abort())).toEqual({ type: 'info', error: 'aborted' });
    expect(requests).toHaveLength(1);
  });

  it('an unreachable data server is a definite fail (no request ever left), after retrying', async () => {
    const closed = await new Promise<number>((r) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => r(port));
      });
    });
    const { kv, cmGets } = await setup(() => ({ ok: true }), { timeoutMs: 400, dataAddress: `127.0.0.1:${closed}` });
    expect(await kv.write('x', 1)).toEqual({ type: 'fail', error: 'connection-refused' });
    expect(cmGets()).toBeGreaterThan(2); // it looked the configuration up again each time
  });

  it('one configuration lookup serves every group for the lease', async () => {
    const { kv, requests, cmGets } = await setup(() => ({ ok: true }), { groups: 3 });
    const { groupOf } = await import('../../../system-under-test/client/index.js');
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    const byGroup = new Map(keys.map((k) => [groupOf(k, 3), k]));
    expect(byGroup.size).toBe(3);
    const outcomes = await Promise.all([...byGroup.values()].flatMap((k) => [kv.read(k), kv.write(k, 1)]));
    expect(outcomes.every((o) => o.type === 'ok')).toBe(true);
    expect(new Set(requests.map((r) => r.group))).toEqual(new Set(['g0', 'g1', 'g2']));
    expect(cmGets()).toBe(1);
  });

  it('requests made in one tick leave in one frame, and each gets its own answer', async () => {
    const { kv, requests, frames } = await setup((req) => ({ ok: true, value: (req.op as { key: string }).key }));
    expect(await kv.read('warm')).toEqual({ type: 'ok', value: 'warm' }); // connection up, configuration cached
    const before = frames();
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const outcomes = await Promise.all(keys.map((k) => kv.read(k)));
    expect(outcomes).toEqual(keys.map((k) => ({ type: 'ok', value: k })));
    expect(requests).toHaveLength(21);
    expect(frames() - before).toBe(1);
  });

  it('keys of different groups in one transfer or read-many: fail before sending', async () => {
    const { kv, requests } = await setup(() => ({ ok: true }));
    (kv as unknown as { groups: number }).groups = 16;
    const { groupOf } = await import('../../../system-under-test/client/index.js');
    const other = ['b', 'c', 'd', 'e', 'f', 'g'].find((k) => groupOf(k, 16) !== groupOf('a', 16))!;
    expect(await kv.transfer('a', other, 1)).toEqual({ type: 'fail', error: 'keys-span-groups' });
    expect(await kv.readMany(['a', other])).toEqual({ type: 'fail', error: 'keys-span-groups' });
    expect(requests).toHaveLength(0);
  });
});
