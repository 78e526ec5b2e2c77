// Real iptables on the host's loopback (and in a throwaway network
// namespace): needs root and iptables, as CI has. Only 127.0.0.0/8 addresses.

import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHAIN_PREFIX,
  chainName,
  grudgeDrops,
  type Netfilter,
  hostNetfilter,
  installDrops,
  installMarks,
  iptablesUsable,
  leftoverChains,
  netnsNetfilter,
  nodeDrops,
  ownerDrops,
  ownerMarks,
  removeChain,
} from '../../nemesis/iptables.js';
import { bridge, describeGrudge, isolateOne, majoritiesRing, randomHalves } from '../../nemesis/grudge.js';
import { Random } from '../../harness/core/generator/random.js';

const A = '127.0.0.31';
const B = '127.0.0.32';
const C = '127.0.0.33';
const address: Record<string, string> = { a: A, b: B, c: C };

// Chains of this test carry its pid, so that the final check does not see
// the chains of other runs (or other tests) on the same machine. The chains
// the test works with are not named UNDERTOW-: a harness starting meanwhile
// removes every UNDERTOW- chain it does not know as a dead run's, which is
// right for runs and would pull the rug from under this test. Only the
// "dead run" chain wears the real prefix, as it must to be found.
const tag = `t${process.pid.toString(36)}`;
const TEST_PREFIX = `UTTEST-${tag}`;
const chain = `${TEST_PREFIX}-live`;
const deadChain = chainName(`${tag}-dead`);
const ourPrefixes = [TEST_PREFIX, deadChain];
const ours = async (nf: Netfilter) => (await Promise.all(ourPrefixes.map((p) => leftoverChains(nf, p)))).flat();
const host = hostNetfilter();

/** A TCP server on `ip` that echoes, remembering what it received. */
interface Echo {
  server: Server;
  port: number;
  received: string[];
  sockets: Set<Socket>;
}
async function echoServer(ip: string): Promise<Echo> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.on('data', (b) => {
      received.push(b.toString());
      s.write(b);
    });
  });
  await new Promise<void>((r) => server.listen(0, ip, r));
  return { server, port: (server.address() as AddressInfo).port, received, sockets };
}

/** Connects from `from` to `to:port`; resolves true when connected within `ms`, false on a timeout. */
function canConnect(from: string, to: string, port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: to, port, localAddress: from });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, ms);
    s.on('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

function openConnection(from: string, to: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: to, port, localAddress: from }, () => resolve(s));
    s.on('error', reject);
  });
}

/** Sends one UDP datagram from `from` to a receiver on `to`, and says whether it arrived within `ms`. */
async function datagramArrives(from: string, to: string, ms: number): Promise<boolean> {
  const rx: UdpSocket = createSocket('udp4');
  const tx: UdpSocket = createSocket('udp4');
  try {
    await new Promise<void>((r) => rx.bind(0, to, r));
    await new Promise<void>((r) => tx.bind(0, from, r));
    const got = new Promise<boolean>((r) => {
      const timer = setTimeout(() => r(false), ms);
      rx.once('message', () => {
        clearTimeout(timer);
        r(true);
      });
    });
    tx.send('ping', rx.address().port, to);
    return await got;
  } finally {
    rx.close();
    tx.close();
  }
}

const waitFor = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(50);
  return cond();
};

// Processes of other users, for owner drops: they dial from 127.0.0.1 (no
// local address), as Go programs do, and a server echoes what it receives.
const UID = { a: 47101, b: 47102, c: 47103 } as const;
const SERVE = `const s = require('net').createServer((c) => { c.on('error', () => {}); c.pipe(c); });
s.listen(0, process.argv[1], () => console.log(s.address().port));`;
const DIAL = `const c = require('net').connect({ host: process.argv[1], port: Number(process.argv[2]) });
const t = setTimeout(() => { console.log('timeout'); process.exit(0); }, Number(process.argv[3]));
c.on('error', (e) => { clearTimeout(t); console.log(e.code); process.exit(0); });
c.on('connect', () => c.write('ping'));
c.on('data', () => { clearTimeout(t); console.log('echo'); process.exit(0); });`;

function runAs(uid: number, script: string, args: readonly string[]): ChildProcess {
  return spawn(process.execPath, ['-e', script, ...args], { uid, gid: uid, stdio: ['ignore', 'pipe', 'inherit'] });
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`exited (${code}) before printing`)));
    child.once('error', reject);
  });
}

/** A process of uid `uid` dials host:port from 127.0.0.1 and says whether its ping came back within `ms`. */
async function echoesAs(uid: number, host: string, port: number, ms: number): Promise<boolean> {
  return (await firstLine(runAs(uid, DIAL, [host, String(port), String(ms)]))) === 'echo';
}

describe('iptables partitions on loopback', () => {
  let servers: Echo[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    const usable = await iptablesUsable();
    // Not a skip: a machine that cannot run partitions fails this test, saying why.
    if (!usable.ok) throw new Error(`iptables partitions cannot run on this machine: ${usable.why}`);
    servers = [await echoServer(A), await echoServer(B)];
  });

  afterAll(async () => {
    for (const c of await ours(host)) await removeChain(host, c);
    for (const c of children) c.kill('SIGKILL');
    for (const e of servers) {
      for (const s of e.sockets) s.destroy();
      await new Promise((r) => e.server.close(r));
    }
    // Nothing of this test is left in the host's tables.
    expect(await ours(host)).toEqual([]);
    for (const from of ['INPUT', 'OUTPUT']) {
      expect((await host.run(['-S', from])).split('\n').filter((l) => ourPrefixes.some((p) => l.includes(p)))).toEqual([]);
    }
  });

  it('iptablesUsable says what is missing and how to get it', async () => {
    expect(await iptablesUsable()).toEqual({ ok: true });
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const r = await iptablesUsable();
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.why).toBe('iptables is not installed: apt-get install -y iptables');
    } finally {
      process.env.PATH = path;
    }
  });

  it('chain names fit iptables, carry the run id when they can, and differ per run', () => {
    expect(chainName('kx3f9a1b2c')).toBe('UNDERTOW-kx3f9a1b2c');
    const long = chainName('a run id that is far too long for iptables');
    expect(long.length).toBeLessThanOrEqual(28);
    expect(long.startsWith(CHAIN_PREFIX)).toBe(true);
    expect(chainName('a run id that is far too long for iptables')).toBe(long);
    expect(chainName('a run id that is far too long for iptables!')).not.toBe(long);
    expect(() => chainName('')).toThrow(RangeError);
  });

  it('grudgeDrops turns a grudge into (src, dst) drops of node addresses', () => {
    // a drops b's and c's packets (dst a), and b and c drop a's.
    const drops = grudgeDrops(isolateOne(['a', 'b', 'c'], 'a'), (n) => address[n]!);
    expect(drops.map((d) => `${d.src}>${d.dst}`).sort()).toEqual([`${A}>${B}`, `${A}>${C}`, `${B}>${A}`, `${C}>${A}`]);
    expect(() => grudgeDrops({ a: ['b'] }, (n) => (n === 'a' ? A : 'b:7000'))).toThrow(/IPv4/);
    // Per node, for a node's own namespace: just the sources it drops.
    expect(nodeDrops(isolateOne(['a', 'b', 'c'], 'a'), 'a', (n) => address[n]!)).toEqual([{ src: B }, { src: C }]);
    expect(nodeDrops(isolateOne(['a', 'b', 'c'], 'a'), 'b', (n) => address[n]!)).toEqual([{ src: A }]);
    expect(nodeDrops({}, 'b', (n) => address[n]!)).toEqual([]);
  });

  it('cuts A -> B (new connections and an open one), leaves B -> A packets alone, and heals', async () => {
    const [, b] = servers as [Echo, Echo];
    expect(await canConnect(A, B, b.port, 5000)).toBe(true);
    const open = await openConnection(A, B, b.port);
    open.on('error', () => undefined);
    open.write('before');
    expect(await waitFor(() => b.received.join('').includes('before'), 5000)).toBe(true);

    await installDrops(host, chain, [{ src: A, dst: B }]);
    expect(await ours(host)).toEqual([chain]);
    expect(await canConnect(A, B, b.port, 1500)).toBe(false);
    open.write('during');
    await sleep(1500);
    expect(b.received.join('')).not.toContain('during');
    // One direction only: a datagram B -> A still arrives, A -> B does not.
    expect(await datagramArrives(B, A, 2000)).toBe(true);
    expect(await datagramArrives(A, B, 1500)).toBe(false);
    // Other loopback pairs are untouched.
    expect(await canConnect(C, B, b.port, 5000)).toBe(true);

    await removeChain(host, chain);
    expect(await ours(host)).toEqual([]);
    expect(await canConnect(A, B, b.port, 5000)).toBe(true);
    expect(await datagramArrives(A, B, 5000)).toBe(true);
    // TCP retransmits what was dropped: the open connection carries on.
    expect(await waitFor(() => b.received.join('').includes('during'), 20_000)).toBe(true);
    open.destroy();
  });

  it('installDrops replaces the rules in force, is idempotent, and hooks the chain once', async () => {
    const [a, b] = servers as [Echo, Echo];
    await installDrops(host, chain, [{ src: A, dst: B }]);
    await installDrops(host, chain, [
      { src: B, dst: A },
      { src: B, dst: A },
    ]);
    await installDrops(host, chain, [{ src: B, dst: A }]);
    const rules = (await host.run(['-S', chain])).split('\n').filter((l) => l.startsWith('-A'));
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatch(/-s 127\.0\.0\.32\/32 -d 127\.0\.0\.31\/32 .*-j DROP/);
    // The host's rules only ever match loopback traffic.
    expect(rules[0]).toContain('-i lo');
    expect((await host.run(['-S', 'INPUT'])).split('\n').filter((l) => l.trim() === `-A INPUT -j ${chain}`)).toHaveLength(1);
    expect(await datagramArrives(A, B, 2000)).toBe(true);
    expect(await datagramArrives(B, A, 1500)).toBe(false);
    expect(await canConnect(B, A, a.port, 1500)).toBe(false);
    // An empty set of drops is a healed network with the chain still in place.
    await installDrops(host, chain, []);
    expect(await canConnect(B, A, a.port, 5000)).toBe(true);
    expect(await canConnect(A, B, b.port, 5000)).toBe(true);
    await removeChain(host, chain);
    await removeChain(host, chain); // absent: fine
    expect(await ours(host)).toEqual([]);
  });

  it('bad input changes nothing: a malformed address leaves the partition in force', async () => {
    await installDrops(host, chain, [{ src: A, dst: B }]);
    await expect(installDrops(host, chain, [{ src: '127.0.0.1 -j ACCEPT' }])).rejects.toThrow(/IPv4/);
    await expect(installDrops(host, 'INPUT', [])).rejects.toThrow(/chain name/);
    expect(await datagramArrives(A, B, 1500)).toBe(false);
    await removeChain(host, chain);
    expect(await datagramArrives(A, B, 5000)).toBe(true);
  });

  it('a grudge on the host drops exactly the directed pairs it names (halves, ring, bridge on five loopback nodes)', async () => {
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const ip = (n: string) => `127.0.0.${40 + Number(n.slice(1))}`;
    const random = Random.seeded(5);
    for (const grudge of [randomHalves(nodes, random), majoritiesRing(nodes, random), bridge(nodes, random)]) {
      await installDrops(host, chain, grudgeDrops(grudge, ip));
      const pairs = nodes.flatMap((from) => nodes.filter((to) => to !== from).map((to) => [from, to] as const));
      const arrived = await Promise.all(pairs.map(([from, to]) => datagramArrives(ip(from), ip(to), 1500)));
      // Node `to` drops what comes from the nodes it holds a grudge against; everything else arrives.
      const expected = pairs.map(([from, to]) => !(grudge[to] ?? []).includes(from));
      expect(arrived, describeGrudge(grudge)).toEqual(expected);
      expect(expected.some((x) => !x)).toBe(true);
    }
    await removeChain(host, chain);
  });

  it('finds the chain a dead run left behind, and cleanup removes it', async () => {
    // A "dead run": its harness was SIGKILLed with a partition in force.
    await installDrops(host, deadChain, [{ src: A, dst: B }]);
    const found = await leftoverChains(host);
    expect(found).toContain(deadChain);
    // What a provider's cleanupLeftovers does with the chains of runs it knows are dead.
    for (const c of found.filter((c) => c === deadChain)) await removeChain(host, c);
    expect(await ours(host)).toEqual([]);
    expect(await datagramArrives(A, B, 5000)).toBe(true);
  });

  it("ownerDrops turns a grudge into owner drops: the sender's dials to the receiver and its replies on the receiver's connections", () => {
    const uid = (n: string) => UID[n as keyof typeof UID];
    // b drops a's packets: a's packets to b's address, and a's packets from
    // its own address on connections b opened (marked by b's uid).
    expect(ownerDrops({ b: ['a'] }, uid, (n) => address[n]!)).toEqual([
      { uidOwner: UID.a, dst: B },
      { uidOwner: UID.a, src: A, dialedBy: UID.b },
    ]);
    const isolated = ownerDrops(isolateOne(['a', 'b', 'c'], 'a'), uid, (n) => address[n]!);
    expect(isolated).toHaveLength(8);
    expect(
      isolated
        .filter((d) => d.dialedBy === undefined)
        .map((d) => `${d.uidOwner}>${d.dst}`)
        .sort(),
    ).toEqual([`${UID.a}>${B}`, `${UID.a}>${C}`, `${UID.b}>${A}`, `${UID.c}>${A}`]);
    expect(ownerDrops({ a: ['a'] }, uid, (n) => address[n]!)).toEqual([]);
    expect(() =>
      ownerDrops(
        { a: ['b'] },
        () => 47101,
        (n) => address[n]!,
      ),
    ).toThrow(/same uid/);
    expect(() =>
      ownerDrops(
        { a: ['b'] },
        () => -1,
        (n) => address[n]!,
      ),
    ).toThrow(/uid/);
    expect(() => ownerDrops({ a: ['b'] }, uid, (n) => (n === 'a' ? A : 'b:2380'))).toThrow(/IPv4/);
  });

  it('owner drops live in a chain hooked from OUTPUT on lo, marks first; the hook follows the kind of drops; bad ones change nothing', async () => {
    const drops = ownerDrops(
      { b: ['a'] },
      (n) => UID[n as keyof typeof UID],
      (n) => address[n]!,
    );
    await installDrops(host, chain, drops);
    const rules = (await host.run(['-S', chain])).split('\n').filter((l) => l.startsWith('-A'));
    expect(rules).toHaveLength(3);
    // b's packets to a mark their connection; a's packets to b, and a's on connections so marked, are dropped.
    expect(rules).toEqual([
      `-A ${chain} -d ${A}/32 -o lo -m owner --uid-owner ${UID.b} -j CONNMARK --set-xmark 0x${UID.b.toString(16)}/0xffffffff`,
      `-A ${chain} -d ${B}/32 -o lo -m owner --uid-owner ${UID.a} -j DROP`,
      `-A ${chain} -s ${A}/32 -o lo -m owner --uid-owner ${UID.a} -m connmark --mark 0x${UID.b.toString(16)} -j DROP`,
    ]);
    const hooksIn = async (from: string) => (await host.run(['-S', from])).split('\n').filter((l) => l.trim() === `-A ${from} -j ${chain}`).length;
    expect([await hooksIn('INPUT'), await hooksIn('OUTPUT')]).toEqual([0, 1]);
    // Again, and with no drops: still one hook, from OUTPUT.
    await installDrops(host, chain, drops);
    await installDrops(host, chain, []);
    expect([await hooksIn('INPUT'), await hooksIn('OUTPUT')]).toEqual([0, 1]);
    // Drops by address move the hook to INPUT, and owner drops back to OUTPUT.
    await installDrops(host, chain, [{ src: A, dst: B }]);
    expect([await hooksIn('INPUT'), await hooksIn('OUTPUT')]).toEqual([1, 0]);
    await installDrops(host, chain, drops);
    expect([await hooksIn('INPUT'), await hooksIn('OUTPUT')]).toEqual([0, 1]);
    // Refused before anything changes: both kinds in one chain, a drop with neither src nor uid, a dialedBy without uid or src, uid 0 as a mark.
    await expect(installDrops(host, chain, [{ src: A }, { uidOwner: UID.a, dst: B }])).rejects.toThrow(/not both/);
    await expect(installDrops(host, chain, [{ dst: B }])).rejects.toThrow(/src/);
    await expect(installDrops(host, chain, [{ src: A, dialedBy: UID.b }])).rejects.toThrow(/uidOwner/);
    await expect(installDrops(host, chain, [{ uidOwner: UID.a, dialedBy: UID.b }])).rejects.toThrow(/src/);
    await expect(installDrops(host, chain, [{ uidOwner: UID.a, src: A, dialedBy: 0 }])).rejects.toThrow(/uid 0/);
    await expect(installDrops(host, chain, [{ uidOwner: 1.5, dst: B }])).rejects.toThrow(/uid/);
    expect((await host.run(['-S', chain])).split('\n').filter((l) => l.startsWith('-A'))).toEqual(rules);
    await removeChain(host, chain);
    expect([await hooksIn('INPUT'), await hooksIn('OUTPUT')]).toEqual([0, 0]);
    expect(await ours(host)).toEqual([]);
  });

  it('connection marks (ownerMarks, installMarks): a chain of CONNMARK rules of its own, hooked from OUTPUT', async () => {
    const uid = (n: string) => UID[n as keyof typeof UID];
    const marks = ownerMarks(['a', 'b', 'c'], uid, (n) => address[n]!);
    expect(marks).toHaveLength(6);
    expect(marks.filter((m) => m.uid === UID.b).map((m) => m.dst)).toEqual([A, C]);
    const markChain = `${TEST_PREFIX}-mk`;
    await installMarks(host, markChain, marks);
    await installMarks(host, markChain, marks);
    const rules = (await host.run(['-S', markChain])).split('\n').filter((l) => l.startsWith('-A'));
    expect(rules).toHaveLength(6);
    expect(rules).toContain(`-A ${markChain} -d ${A}/32 -o lo -m owner --uid-owner ${UID.b} -j CONNMARK --set-xmark 0x${UID.b.toString(16)}/0xffffffff`);
    const hooksIn = async (from: string) => (await host.run(['-S', from])).split('\n').filter((l) => l.trim() === `-A ${from} -j ${markChain}`).length;
    expect([await hooksIn('INPUT'), await hooksIn('OUTPUT')]).toEqual([0, 1]);
    await expect(installMarks(host, markChain, [{ uid: 0, dst: A }])).rejects.toThrow(/uid 0/);
    await expect(installMarks(host, markChain, [{ uid: UID.a, dst: 'a' }])).rejects.toThrow(/IPv4/);
    expect((await host.run(['-S', markChain])).split('\n').filter((l) => l.startsWith('-A'))).toEqual(rules);
    await removeChain(host, markChain);
    expect([await hooksIn('INPUT'), await hooksIn('OUTPUT')]).toEqual([0, 0]);
    expect(await ours(host)).toEqual([]);
  });

  it("owner drops cut one direction by the sender's uid, on connections either side dialed from 127.0.0.1, and heal", async () => {
    const serve = async (uid: number, ip: string) => {
      const child = runAs(uid, SERVE, [ip]);
      children.push(child);
      return Number(await firstLine(child));
    };
    const portA = await serve(UID.a, A);
    const portB = await serve(UID.b, B);
    expect(await echoesAs(UID.b, A, portA, 5000)).toBe(true);
    expect(await echoesAs(UID.a, B, portB, 5000)).toBe(true);

    // b drops a's packets.
    await installDrops(
      host,
      chain,
      ownerDrops(
        { b: ['a'] },
        (n) => UID[n as keyof typeof UID],
        (n) => address[n]!,
      ),
    );
    // a's dials to b are cut, and so are a's replies on connections b dials to a.
    expect(await echoesAs(UID.a, B, portB, 1500)).toBe(false);
    expect(await echoesAs(UID.b, A, portA, 1500)).toBe(false);
    // Everything else goes: c with both, a's replies to c, and root (the harness's clients).
    expect(await echoesAs(UID.c, A, portA, 5000)).toBe(true);
    expect(await echoesAs(UID.c, B, portB, 5000)).toBe(true);
    expect(await echoesAs(0, A, portA, 5000)).toBe(true);

    await removeChain(host, chain);
    expect(await echoesAs(UID.a, B, portB, 5000)).toBe(true);
    expect(await echoesAs(UID.b, A, portA, 5000)).toBe(true);
  });

  it("works inside another network namespace without touching the host (the Docker provider's way)", async () => {
    const holder = spawn('unshare', ['--net', 'sleep', '120'], { stdio: 'ignore' });
    children.push(holder);
    await new Promise<void>((r, j) => {
      holder.once('spawn', r);
      holder.once('error', j);
    });
    // unshare enters the new namespace and then execs sleep under the same pid:
    // wait until that pid's namespace differs from ours, or nsenter would land on the host.
    const pid = holder.pid!;
    expect(
      await waitFor(() => {
        try {
          return readlinkSync(`/proc/${pid}/ns/net`) !== readlinkSync('/proc/self/ns/net');
        } catch {
          return false;
        }
      }, 10_000),
    ).toBe(true);
    const nf = netnsNetfilter(pid);
    const ns = await nf.run(['-S', 'INPUT']);
    expect(ns).toContain('-P INPUT ACCEPT');
    const nsChain = `${TEST_PREFIX}-ns`;
    await installDrops(nf, nsChain, [{ src: '10.99.0.2' }]);
    expect(await ours(nf)).toEqual([nsChain]);
    expect((await nf.run(['-S', nsChain])).split('\n').filter((l) => l.startsWith('-A'))[0]).toBe(`-A ${nsChain} -s 10.99.0.2/32 -j DROP`);
    expect(await ours(host)).toEqual([]);
    await removeChain(nf, nsChain);
    expect(await ours(nf)).toEqual([]);
    holder.kill('SIGKILL');
  });
});
