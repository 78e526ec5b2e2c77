// The etcd client's answers to every shape of failure, against a fake etcd
// gateway on 127.0.0.1: each case asserts the exact ok/fail/info (Jepsen's
// meaning: fail = certainly did not apply; info = may have; reads are never info).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdClient, keyOf } from '../../../adapters/etcd/client.js';
import { b64, serverError } from '../../../adapters/etcd/gateway.js';
import type { Invocation } from '../../../harness/core/generator/types.js';

type Reply = { status?: number; json?: unknown; text?: string } | 'reset' | 'hang' | 'close';
type Handler = (path: string, body: Record<string, unknown>) => Reply;

let server: Server;
let port = 0;
let handler: Handler = () => ({ json: {} });
const seen: { path: string; body: Record<string, unknown> }[] = [];
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      seen.push({ path: req.url ?? '', body });
      const r = handler(req.url ?? '', body);
      if (r === 'hang') return;
      // After the whole request arrived: a TCP reset, or a plain close without an answer.
      if (r === 'reset') return void req.socket.resetAndDestroy();
      if (r === 'close') return void req.socket.destroy();
      res.writeHead(r.status ?? 200, { 'content-type': 'application/json' });
      res.end(r.text ?? JSON.stringify(r.json ?? {}));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

const op = (f: string, value: unknown = null, key?: string): Invocation => ({
  f,
  value: value as Invocation['value'],
  ...(key !== undefined ? { key } : {}),
  process: 0,
  time: 0,
});

async function run(workload: string, o: Invocation, opts: { timeoutMs?: number; signal?: AbortSignal; address?: string; accounts?: string[] } = {}) {
  const c = etcdClient({ workload, reads: 'linearizable', opTimeoutMs: opts.timeoutMs ?? 2000, accounts: opts.accounts });
  await c.open(opts.address ?? `127.0.0.1:${port}`);
  try {
    return await c.invoke(o, opts.signal ?? new AbortController().signal);
  } finally {
    await c.close();
  }
}

const etcdAnswer = (status: number, code: number, message: string): Reply => ({ status, json: { error: message, code, message } });
const kv = (key: string, value: unknown, rev = '5') => ({ key: b64(key), value: b64(JSON.stringify(value)), mod_revision: rev });

describe("etcd client: ok, fail and info, as Jepsen's etcd client", () => {
  it('a plain answer is ok; reads decode the JSON value (null / [] when absent)', async () => {
    handler = (path) => (path === '/v3/kv/range' ? { json: { kvs: [kv(keyOf.register(1), 7)] } } : { json: {} });
    expect(await run('register', op('read', null, '1'))).toEqual({ type: 'ok', value: 7 });
    expect(await run('register', op('write', 3, '1'))).toEqual({ type: 'ok' });
    handler = () => ({ json: { header: {} } });
    expect(await run('register', op('read', null, '1'))).toEqual({ type: 'ok', value: null });
    expect(await run('append', op('read', null, 'k'))).toEqual({ type: 'ok', value: [] });
    expect(await run('set', op('read'))).toEqual({ type: 'ok', value: [] });
  });

  it('a txn whose compare failed is fail (cas)', async () => {
    handler = () => ({ json: { header: {} } }); // succeeded left out: false
    const r = await run('register', op('cas', [1, 2], '1'));
    expect(r.type).toBe('fail');
    expect(String(r.error)).toMatch(/cas: the value was not 1/);
    handler = () => ({ json: { succeeded: true } });
    expect(await run('register', op('cas', [1, 2], '1'))).toEqual({ type: 'ok' });
    const cas = seen.at(-1)!.body as { compare: { target: string; value: string }[] };
    expect(cas.compare[0]).toMatchObject({ target: 'VALUE', value: b64('1') });
  });

  for (const [what, reply, write] of [
    ['request timed out (Unavailable)', etcdAnswer(503, 14, 'etcdserver: request timed out'), 'info'],
    ['leader changed', etcdAnswer(503, 14, 'etcdserver: leader changed'), 'info'],
    ['unavailable', etcdAnswer(503, 14, 'etcdserver: server stopped'), 'info'],
    ['deadline exceeded', etcdAnswer(504, 4, 'context deadline exceeded'), 'info'],
    ['an Unknown error', etcdAnswer(500, 2, 'etcdserver: something new'), 'info'],
    ['a non-JSON 502', { status: 502, text: 'Bad Gateway' }, 'info'],
    ['compacted (OutOfRange)', etcdAnswer(400, 11, 'etcdserver: mvcc: required revision has been compacted'), 'fail'],
    ['"compacted" with another code', etcdAnswer(500, 2, 'required revision has been compacted'), 'fail'],
    ['too many requests', etcdAnswer(429, 8, 'etcdserver: too many requests'), 'fail'],
    ['a malformed request (InvalidArgument)', etcdAnswer(400, 3, 'etcdserver: duplicate key given in txn request'), 'fail'],
  ] as const) {
    it(`${what}: a write is ${write}, a read fail`, async () => {
      handler = () => reply;
      const w = await run('register', op('write', 1, '1'));
      expect(w.type).toBe(write);
      expect(typeof w.error).toBe('string');
      expect((await run('register', op('read', null, '1'))).type).toBe('fail');
    });
  }

  it('connection refused (nothing sent): fail, for writes too', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = `127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const w = await run('register', op('write', 1, '1'), { address: dead });
    expect(w).toMatchObject({ type: 'fail' });
    expect(String(w.error)).toMatch(/ECONNREFUSED/);
    expect((await run('append', op('append', 1, 'k'), { address: dead })).type).toBe('fail');
    expect((await run('register', op('read', null, '1'), { address: dead })).type).toBe('fail');
  });

  it('a connection reset after the request was received: write info, read fail', async () => {
    handler = () => 'reset';
    const w = await run('register', op('write', 1, '1'));
    expect(w.type).toBe('info');
    expect(String(w.error)).toMatch(/ECONNRESET/);
    expect((await run('register', op('read', null, '1'))).type).toBe('fail');
    handler = () => 'close';
    expect((await run('register', op('write', 1, '1'))).type).toBe('info');
    expect((await run('register', op('read', null, '1'))).type).toBe('fail');
  });

  it("no answer: the client gives up before the worker's timeout; write info, read fail", async () => {
    handler = () => 'hang';
    const t0 = performance.now();
    const w = await run('register', op('write', 1, '1'), { timeoutMs: 600 });
    const took = performance.now() - t0;
    expect(w.type).toBe('info');
    expect(String(w.error)).toMatch(/timed out/);
    expect(took).toBeLessThan(600);
    expect(took).toBeGreaterThan(300);
    expect((await run('register', op('read', null, '1'), { timeoutMs: 600 })).type).toBe('fail');
  });

  it("the worker's abort stops the request: an aborted write is info, one aborted before sending fail", async () => {
    handler = () => 'hang';
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const t0 = performance.now();
    const w = await run('register', op('write', 1, '1'), { timeoutMs: 10_000, signal: ac.signal });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(w).toMatchObject({ type: 'info', error: 'aborted after it was sent' });
    const before = new AbortController();
    before.abort();
    expect(await run('register', op('write', 1, '1'), { signal: before.signal })).toMatchObject({ type: 'fail', error: 'aborted before it was sent' });
    const ar = new AbortController();
    setTimeout(() => ar.abort(), 200);
    expect((await run('register', op('read', null, '1'), { timeoutMs: 10_000, signal: ar.signal })).type).toBe('fail');
  });

  it("set add: a failed compare on mod_revision did not apply, so it tries again with the else branch's value; ok when one applies", async () => {
    let txns = 0;
    handler = (path, body) => {
      if (path === '/v3/kv/range') return { json: { kvs: [kv('set', [1], '3')] } };
      txns++;
      const cmp = (body.compare as { mod_revision: string }[])[0]!;
      // Two conflicting writers got there first; the else branch returns the newer list.
      if (txns < 3) return { json: { responses: [{ response_range: { kvs: [kv('set', [1, 10 + txns], String(3 + txns))] } }] } };
      expect(cmp.mod_revision).toBe('5');
      return { json: { succeeded: true } };
    };
    expect(await run('set', op('add', 2))).toEqual({ type: 'ok' });
    expect(txns).toBe(3);
    const put = (seen.at(-1)!.body.success as { request_put: { value: string } }[])[0]!.request_put;
    expect(JSON.parse(Buffer.from(put.value, 'base64').toString())).toEqual([1, 12, 2]);
  });

  it("set add: compares that never match until the op's time runs out are fail (none applied)", async () => {
    handler = (path) => (path === '/v3/kv/range' ? { json: {} } : { json: { responses: [{ response_range: { kvs: [kv('set', [9], '8')] } }] } });
    const r = await run('set', op('add', 2), { timeoutMs: 500 });
    expect(r.type).toBe('fail');
    expect(String(r.error)).toMatch(/compares on mod_revision did not match/);
  });

  it("append: the read before the write failing is fail (nothing written yet); the txn's timeout is info", async () => {
    handler = (path) => (path === '/v3/kv/range' ? etcdAnswer(503, 14, 'etcdserver: request timed out') : { json: { succeeded: true } });
    expect((await run('append', op('append', 1, 'k'))).type).toBe('fail');
    handler = (path) => (path === '/v3/kv/range' ? { json: {} } : 'hang');
    expect((await run('append', op('append', 1, 'k'), { timeoutMs: 500 })).type).toBe('info');
  });

  it('bank: an overdraw is fail without a write; a transfer is one txn comparing both revisions; read is one txn', async () => {
    const accounts = ['a', 'b'];
    const balances: Record<string, number> = { a: 3, b: 5 };
    handler = (path, body) => {
      const ranges = ((body.success ?? []) as { request_range?: { key: string } }[]).filter((x) => x.request_range);
      if (path === '/v3/kv/txn' && ranges.length > 0) {
        return {
          json: {
            succeeded: true,
            responses: ranges.map((x) => {
              const k = Buffer.from(x.request_range!.key, 'base64').toString();
              return { response_range: { kvs: [kv(k, balances[k.slice(5)], '4')] } };
            }),
          },
        };
      }
      return { json: { succeeded: true } };
    };
    const n = seen.length;
    const over = await run('bank', op('transfer', { from: 'a', to: 'b', amount: 4 }), { accounts });
    expect(over).toMatchObject({ type: 'fail' });
    expect(String(over.error)).toMatch(/overdraw/);
    expect(seen.slice(n).every((s) => !JSON.stringify(s.body).includes('request_put'))).toBe(true);
    expect(await run('bank', op('transfer', { from: 'a', to: 'b', amount: 3 }), { accounts })).toEqual({ type: 'ok' });
    const t = seen.at(-1)!.body as { compare: { target: string }[]; success: { request_put: { value: string } }[] };
    expect(t.compare.map((c) => c.target)).toEqual(['MOD', 'MOD']);
    expect(t.success.map((p) => JSON.parse(Buffer.from(p.request_put.value, 'base64').toString()))).toEqual([0, 8]);
    expect(await run('bank', op('read'), { accounts })).toEqual({ type: 'ok', value: { a: 3, b: 5 } });
    handler = (path, body) =>
      body.success && (body.success as unknown[]).some((x) => JSON.stringify(x).includes('request_put'))
        ? 'hang'
        : { json: { succeeded: true, responses: [{ response_range: {} }, { response_range: {} }] } };
    balances.a = 0;
    // Absent accounts hold 0: an overdraw.
    expect((await run('bank', op('transfer', { from: 'a', to: 'b', amount: 1 }), { accounts })).type).toBe('fail');
  });

  it('an op the workload does not have is fail, and nothing is sent', async () => {
    const n = seen.length;
    expect((await run('register', op('frobnicate'))).type).toBe('fail');
    expect(seen.length).toBe(n);
  });

  it('serverError classifies by gRPC code and message', () => {
    expect(serverError(503, '{"error":"etcdserver: leader changed","code":14}').definite).toBe(false);
    expect(serverError(400, '{"error":"etcdserver: mvcc: required revision has been compacted","code":11}').definite).toBe(true);
    expect(serverError(400, '{"error":"etcdserver: can only promote a learner member which is in sync with leader","code":9}').definite).toBe(true);
    expect(serverError(502, 'upstream gone').message).toBe('upstream gone');
  });
});
