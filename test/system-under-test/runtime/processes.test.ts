// End to end with real OS processes: `undertow-node cm` started through
// vite-node (no build step needed), killed with SIGKILL, restarted from disk.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CmClient, type CmResponse } from '../../../system-under-test/runtime/client.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const VITE_NODE = path.join(ROOT, 'node_modules/vite-node/vite-node.mjs');
const BIN = path.join(ROOT, 'system-under-test/bin/undertow-node.ts');

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

class Nodes {
  readonly procs = new Map<string, ChildProcess>();
  readonly out = new Map<string, string[]>();
  readonly addr: Record<string, string>;
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-proc-'));

  constructor(readonly ids: string[], ports: number[], readonly founders: string[]) {
    this.addr = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
    cleanups.push(() => {
      for (const p of this.procs.values()) p.kill('SIGKILL');
      fs.rmSync(this.root, { recursive: true, force: true });
    });
  }

  start(id: string, join = false): void {
    const peers = this.founders.map((f) => `${f}=${this.addr[f]}`).join(',');
    const args = [VITE_NODE, BIN, '--', 'cm', '--id', id, '--listen', this.addr[id], '--peers', peers, '--data', path.join(this.root, id), '--tick-ms', '20', '--election-ticks', '10'];
    if (join) args.push('--join');
    const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = this.out.get(id) ?? [];
    this.out.set(id, lines);
    p.stdout!.on('data', (d: Buffer) => lines.push(...String(d).split('\n').filter((l) => l !== '')));
    p.stderr!.on('data', (d: Buffer) => lines.push(`stderr: ${String(d)}`));
    this.procs.set(id, p);
  }

  kill(id: string): void {
    this.procs.get(id)!.kill('SIGKILL');
    this.procs.delete(id);
  }

  client(ids = this.ids): CmClient {
    const c = new CmClient(ids.map((id) => this.addr[id]), { timeoutMs: 4000, attemptMs: 1000 });
    cleanups.push(() => c.close());
    return c;
  }

  /** The id of the node that says it is leader, asking every running node. */
  async leader(): Promise<string | undefined> {
    for (const id of this.procs.keys()) {
      const c = new CmClient([this.addr[id]], { timeoutMs: 300, attemptMs: 300 });
      const st = await c.request({ op: 'status' });
      c.close();
      if (st.ok && st.role === 'leader') return id;
    }
    return undefined;
  }
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('undertow-node cm as OS processes', () => {
  it('3 processes: elect, kill -9 the leader and see a new one within 2 s, restart all and recover', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const nodes = new Nodes(ids, await freePorts(3), ids);
    for (const id of ids) nodes.start(id);
    const first = await until('a leader', () => nodes.leader(), 15_000);
    const client = nodes.client();
    expect(await client.request({ op: 'registerServer', id: 'd1', address: 'x:1' })).toMatchObject({ ok: true });
    expect(await client.request({ op: 'registerServer', id: 'd2', address: 'x:2' })).toMatchObject({ ok: true });
    expect(await client.request({ op: 'createGroups', groups: { g1: { primary: 'd1', secondaries: ['d2'] } } })).toMatchObject({ ok: true });
    expect(await client.request({ op: 'reconfigure', group: 'g1', expectedVersion: 1, config: { primary: 'd2', secondaries: ['d1'] } })).toMatchObject({ ok: true, group: { version: 2 } });

    nodes.kill(first);
    const killed = Date.now();
    const second = await until('a new leader', async () => {
      const l = await nodes.leader();
      return l !== undefined && l !== first ? l : undefined;
    }, 2000);
    expect(Date.now() - killed).toBeLessThan(2000);
    expect(second).not.toBe(first);
    expect(await client.request({ op: 'reconfigure', group: 'g1', expectedVersion: 2, config: { primary: 'd1', secondaries: [] } })).toMatchObject({ ok: true, group: { version: 3 } });

    for (const id of [...nodes.procs.keys()]) nodes.kill(id);
    for (const id of ids) nodes.start(id);
    await until('a leader after restarting all', () => nodes.leader(), 15_000);
    expect(await client.request({ op: 'get', group: 'g1' })).toMatchObject({ ok: true, groups: { g1: { version: 3, primary: 'd1' } } });
    const lines = [...nodes.out.values()].flat();
    expect(lines.some((l) => l.includes('"event":"role"') && l.includes('"role":"leader"'))).toBe(true);
    expect(lines.some((l) => l.includes('"event":"start"'))).toBe(true);
  }, 60_000);

  it('5 processes: grow 3 -> 5 and shrink 5 -> 3 while reconfigures keep succeeding', async () => {
    const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const nodes = new Nodes(ids, await freePorts(5), ['n1', 'n2', 'n3']);
    for (const id of ids) nodes.start(id, !['n1', 'n2', 'n3'].includes(id));
    await until('a leader', () => nodes.leader(), 15_000);
    const client = nodes.client();
    for (const d of ['d1', 'd2']) expect(await client.request({ op: 'registerServer', id: d, address: `${d}:1` })).toMatchObject({ ok: true });
    expect(await client.request({ op: 'createGroups', groups: { g1: { primary: 'd1', secondaries: [] } } })).toMatchObject({ ok: true });

    let version = 1;
    let ok = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        const r: CmResponse = await client.request({ op: 'reconfigure', group: 'g1', expectedVersion: version, config: { primary: version % 2 ? 'd2' : 'd1', secondaries: [] } });
        if (r.ok) {
          version++;
          ok++;
        } else if (r.error === 'version-mismatch' && r.group !== undefined) version = r.group.version;
      }
    })();
    const votersAre = async (want: string[]) => {
      const st = await client.request({ op: 'status' });
      const cfg = st.ok ? (st.config as { voters: string[]; outgoing: string[] }) : undefined;
      return cfg !== undefined && cfg.outgoing.length === 0 && JSON.stringify(cfg.voters) === JSON.stringify(want) ? true : undefined;
    };
    const step = async (req: Parameters<CmClient['request']>[0], want: string[]) => {
      const before = ok;
      await until(`${JSON.stringify(req)}`, async () => ((await client.request(req)).ok ? true : undefined), 10_000);
      await until(`voters ${want.join(',')}`, () => votersAre(want), 10_000);
      await until('a write after the change', async () => (ok > before ? true : undefined), 10_000);
    };
    await step({ op: 'addMember', id: 'n4', address: nodes.addr.n4 }, ['n1', 'n2', 'n3', 'n4']);
    await step({ op: 'addMember', id: 'n5', address: nodes.addr.n5 }, ['n1', 'n2', 'n3', 'n4', 'n5']);
    await step({ op: 'removeMember', id: 'n1' }, ['n2', 'n3', 'n4', 'n5']);
    await step({ op: 'removeMember', id: 'n2' }, ['n3', 'n4', 'n5']);
    stop = true;
    await writer;
    expect(ok).toBeGreaterThan(4);
    const lines = [...nodes.out.values()].flat();
    expect(lines.some((l) => l.includes('"event":"membership"') && l.includes('"voters":["n3","n4","n5"]'))).toBe(true);
  }, 90_000);
});
