// The CM runtime end to end, in one process: real TCP on loopback, real files
// with fsync, real timers. (Separate OS processes and kill -9 are exercised by
// the process-level tests of the entry point.)

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CmClient, type CmResponse } from '../../../system-under-test/runtime/client.js';
import { CmServer, type CmServerOptions } from '../../../system-under-test/runtime/cm-server.js';
import { freePorts } from '../../../system-under-test/runtime/local-cluster.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Cluster {
  ids: string[];
  addr: Record<string, string>;
  dirs: Record<string, string>;
  servers: Map<string, CmServer>;
  logs: string[];
  start(id: string, extra?: Partial<CmServerOptions>): Promise<CmServer>;
  client(): CmClient;
}

async function cluster(voters: number, spares = 0): Promise<Cluster> {
  const ids = Array.from({ length: voters + spares }, (_, i) => `n${i + 1}`);
  const ports = await freePorts(ids.length);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-cm-'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(
        ...String(chunk)
          .split('\n')
          .filter((l) => l.length > 0),
      );
      cb();
    },
  });
  const c: Cluster = {
    ids,
    addr: Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`])),
    dirs: Object.fromEntries(ids.map((id) => [id, path.join(root, id)])),
    servers: new Map(),
    logs,
    async start(id, extra = {}) {
      const founders = ids.slice(0, voters);
      const s = await CmServer.start({
        id,
        listen: c.addr[id],
        peers: Object.fromEntries(founders.map((f) => [f, c.addr[f]])),
        dataDir: c.dirs[id],
        tickMs: 10,
        electionTicks: 10,
        heartbeatTicks: 2,
        compactEvery: 50,
        logger: pino({ base: { node: id } }, sink),
        ...extra,
      });
      c.servers.set(id, s);
      return s;
    },
    client() {
      const cl = new CmClient(Object.values(c.addr), { timeoutMs: 4000, attemptMs: 800 });
      cleanups.push(() => cl.close());
      return cl;
    },
  };
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  cleanups.push(async () => {
    for (const s of c.servers.values()) await s.stop();
  });
  return c;
}

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 4000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const leaderOf = (c: Cluster) => [...c.servers.entries()].find(([, s]) => s.status().role === 'leader')?.[0];

async function bootstrap(client: CmClient): Promise<void> {
  for (const d of ['d1', 'd2', 'd3']) expect(await client.request({ op: 'registerServer', id: d, address: `${d}:7000` })).toMatchObject({ ok: true });
  expect(await client.request({ op: 'createGroups', groups: { g1: { primary: 'd1', secondaries: ['d2'] } } })).toMatchObject({ ok: true });
}

describe('CM runtime (TCP, files, timers)', () => {
  it('elects one leader; reconfigure is a compare-and-set; reads are served through the leader', async () => {
    const c = await cluster(3);
    for (const id of c.ids) await c.start(id);
    await until('a leader', () => leaderOf(c));
    const client = c.client();
    await bootstrap(client);
    const [a, b] = await Promise.all([
      client.request({ op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd2', secondaries: ['d3'] } }),
      client.request({ op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd3', secondaries: [] } }),
    ]);
    expect([a.ok, b.ok].filter(Boolean)).toHaveLength(1);
    expect([a, b].find((r) => !r.ok)).toMatchObject({ ok: false, error: 'version-mismatch', group: { version: 2 } });
    const got = await client.request({ op: 'get', group: 'g1' });
    expect(got).toMatchObject({ ok: true, groups: { g1: { version: 2 } } });
    // Any node redirects to the leader.
    const follower = c.ids.find((id) => id !== leaderOf(c))!;
    const direct = new CmClient([c.addr[follower]]);
    cleanups.push(() => direct.close());
    expect(await direct.request({ op: 'get' })).toMatchObject({ ok: true, groups: { g1: { version: 2 } }, servers: { d1: { address: 'd1:7000' } } });
    const st = await direct.request({ op: 'status' });
    expect(st).toMatchObject({ ok: true, id: expect.any(String), config: { voters: ['n1', 'n2', 'n3'] } });
    expect(c.logs.some((l) => l.includes('"event":"role"') && l.includes('"role":"leader"'))).toBe(true);
  });

  it('a new leader is elected within 2 s after the leader dies, and all nodes recover their state from disk', async () => {
    const c = await cluster(3);
    for (const id of c.ids) await c.start(id);
    const first = await until('a leader', () => leaderOf(c));
    const client = c.client();
    await bootstrap(client);
    expect(await client.request({ op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd2', secondaries: [] } })).toMatchObject({
      ok: true,
    });
    const killedAt = Date.now();
    await c.servers.get(first)!.stop();
    c.servers.delete(first);
    const second = await until('a new leader', () => leaderOf(c), 2000);
    expect(second).not.toBe(first);
    expect(Date.now() - killedAt).toBeLessThan(2000);
    expect(await client.request({ op: 'reconfigure', group: 'g1', expectedVersion: 2, config: { primary: 'd3', secondaries: [] } })).toMatchObject({
      ok: true,
      group: { version: 3 },
    });

    // Restart everyone from their data directories.
    for (const s of c.servers.values()) await s.stop();
    c.servers.clear();
    for (const id of c.ids) await c.start(id);
    await until('a leader after restart', () => leaderOf(c));
    expect(await client.request({ op: 'get', group: 'g1' })).toMatchObject({ ok: true, groups: { g1: { version: 3, primary: 'd3' } } });
  });

  it('grows from 3 to 5 members and shrinks back to 3 while reconfigures keep succeeding', async () => {
    const c = await cluster(3, 2);
    for (const id of c.ids.slice(0, 3)) await c.start(id);
    for (const id of c.ids.slice(3)) await c.start(id, { join: true });
    await until('a leader', () => leaderOf(c));
    const client = c.client();
    await bootstrap(client);
    // The writer tracks the version it knows; an unknown outcome (the leader it
    // asked was removed mid-request) may or may not have bumped it.
    let version = 1;
    let unknownSinceKnown = 0;
    const errors = new Set<string>();
    let stop = false;
    const writes = (async () => {
      let ok = 0;
      while (!stop) {
        const r: CmResponse = await client.request({
          op: 'reconfigure',
          group: 'g1',
          expectedVersion: version,
          config: { primary: version % 2 === 0 ? 'd1' : 'd2', secondaries: [] },
        });
        if (r.ok) {
          version++;
          ok++;
          unknownSinceKnown = 0;
        } else {
          errors.add(r.error);
          if (r.error === 'version-mismatch' && r.group !== undefined) {
            version = r.group.version;
            unknownSinceKnown = 0;
          } else {
            expect(r).toMatchObject({ error: 'timeout', unknown: true }); // the only other outcome
            unknownSinceKnown++;
          }
        }
      }
      return ok;
    })();
    const voters = async () => {
      const st = await client.request({ op: 'status' });
      return st.ok ? (st.config as { voters: string[]; outgoing: string[] }) : undefined;
    };
    const change = async (req: { op: 'addMember'; id: string; address: string } | { op: 'removeMember'; id: string }, want: string[]) => {
      await until(`${req.op} ${req.id}`, async () => ((await client.request(req)).ok ? true : undefined));
      await until(`voters ${want}`, async () => {
        const v = await voters();
        return v !== undefined && v.outgoing.length === 0 && JSON.stringify(v.voters) === JSON.stringify(want) ? true : undefined;
      });
    };
    await change({ op: 'addMember', id: 'n4', address: c.addr.n4 }, ['n1', 'n2', 'n3', 'n4']);
    await change({ op: 'addMember', id: 'n5', address: c.addr.n5 }, ['n1', 'n2', 'n3', 'n4', 'n5']);
    const before = version;
    await change({ op: 'removeMember', id: 'n1' }, ['n2', 'n3', 'n4', 'n5']);
    await change({ op: 'removeMember', id: 'n2' }, ['n3', 'n4', 'n5']);
    stop = true;
    const ok = await writes;
    expect(ok).toBeGreaterThan(5);
    expect(version).toBeGreaterThan(before); // writes succeeded during the shrink too
    const final = (await client.request({ op: 'get', group: 'g1' })) as { ok: true; groups: { g1: { version: number } } };
    expect(final.groups.g1.version).toBeGreaterThanOrEqual(version);
    expect(final.groups.g1.version).toBeLessThanOrEqual(version + unknownSinceKnown);
    expect([...errors].every((e) => e === 'version-mismatch' || e === 'timeout')).toBe(true);
    expect(c.logs.some((l) => l.includes('"event":"membership"') && l.includes('n5'))).toBe(true);
  }, 30_000);

  it('closes a connection that sends garbage, logs it, and keeps serving', async () => {
    const c = await cluster(1);
    const s = await c.start('n1');
    await until('a leader', () => leaderOf(c));
    const sock = net.connect(s.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const closed = new Promise((r) => sock.once('close', r));
    sock.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await closed;
    expect(c.logs.some((l) => l.includes('"event":"bad-frame"'))).toBe(true);
    expect(await c.client().request({ op: 'status' })).toMatchObject({ ok: true, role: 'leader' });
  });
});
