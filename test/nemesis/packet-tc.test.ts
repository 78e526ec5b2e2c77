// Real tc: the layout of packet faults in a throwaway network namespace
// (exactly what is added and removed, two runs sharing the root, a root that
// is not ours refused), and their effect on the host's loopback: the
// targeted address's traffic is slowed (rate; delay, loss, duplicate where
// the kernel has netem) and another address's is not, and afterwards lo is
// as it was. A dead run's class is removed by the local provider's
// cleanupLeftovers. Needs root and tc with htb and u32, as CI has; the netem
// cases need the kernel's netem too.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../harness/core/generator/random.js';
import { apply, clear, expectLoClean } from './packet-lo.js';
import { localProvider } from '../../harness/providers/local.js';
import { chainName, hostNetfilter } from '../../nemesis/iptables.js';
import {
  applyPacket,
  clearSlot,
  drawNetem,
  needsNetem,
  PACKET_KINDS,
  hostTc,
  installClassify,
  packetSlots,
  removeClassify,
  rootFree,
  packetUsable,
  TC_MAJOR,
  type Tc,
} from '../../nemesis/packet.js';

const usable = await packetUsable(['rate']);
const netem = await packetUsable(['delay']);
const why = usable.ok ? '' : usable.why;
const netemWhy = netem.ok ? '' : netem.why;
if (!usable.ok) console.warn(`packet tc tests skipped: ${why}`);
else if (!netem.ok) console.warn(`packet netem cases skipped: ${netemWhy}`);

const sh = (file: string, args: string[]) => execFileSync(file, args, { encoding: 'utf8' });

/** tc in a named network namespace of this test. */
function nsTc(ns: string): Tc {
  return {
    where: `netns ${ns}`,
    run: async (args) => {
      const r = spawnSync('ip', ['netns', 'exec', ns, 'tc', ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw Object.assign(new Error(`tc ${args.join(' ')} failed (netns ${ns}): ${r.stderr.trim()}`), { stderr: r.stderr });
      return r.stdout;
    },
  };
}

describe.skipIf(!usable.ok)('packet faults: the tc layout (a throwaway netns)', () => {
  const ns = `utw-packet-${process.pid}`;
  const tc = nsTc(ns);
  const show = async (what: 'qdisc' | 'class' | 'filter') => (await tc.run([what, 'show', 'dev', 'lo'])).trim();

  beforeAll(() => {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns]);
  });

  it('one class, its filters and (with netem settings) its leaf; removing them leaves lo as it was', async () => {
    const before = await show('qdisc');
    expect(before).toMatch(/^qdisc noqueue 0: root/);
    const slot = await applyPacket(tc, 'lo', 'run-a', null, ['127.0.0.2', '127.0.0.3'], { rateKbit: 1024 });
    expect(await show('qdisc')).toMatch(new RegExp(`^qdisc htb ${TC_MAJOR}: root`, 'm'));
    expect(await show('class')).toMatch(new RegExp(`^class htb ${TC_MAJOR}:${slot.minor.toString(16)} root .*rate 1024Kbit ceil 1024Kbit`, 'm'));
    const filters = await show('filter');
    expect(filters).toContain(`pref ${slot.minor} u32`);
    expect(filters).toContain('match 7f000002/ffffffff at 12');
    expect(filters).toContain('match 7f000003/ffffffff at 12');
    // Replaced: a new fault on another node, the same single class.
    const again = await applyPacket(tc, 'lo', 'run-a', slot, ['127.0.0.4'], { rateKbit: 2048 });
    expect((await show('class')).split('\n').filter((l) => l.startsWith('class htb'))).toHaveLength(1);
    expect(await show('filter')).not.toContain('7f000002');
    expect(await show('filter')).toContain('7f000004');
    await clearSlot(tc, again);
    expect(await show('qdisc')).toBe(before);
    expect(await show('filter')).toBe('');
    expect(await show('class')).toBe('');
    await clearSlot(tc, again); // idempotent
  });

  it.skipIf(!netem.ok)('with netem settings the class has a netem leaf, removed with it', async () => {
    const slot = await applyPacket(tc, 'lo', 'run-n', null, ['127.0.0.2'], { delayMs: 100, jitterMs: 10, lossPct: 1 });
    expect(await show('qdisc')).toMatch(/qdisc netem [0-9a-f]+: parent 7557:[0-9a-f]+ .*delay 100ms\s+10ms loss 1%/);
    await clearSlot(tc, slot);
    expect(await show('qdisc')).toMatch(/^qdisc noqueue 0: root refcnt \d+$/);
  });

  it('two runs share the root; each removes only its own, and the last one out removes the root', async () => {
    const a = await applyPacket(tc, 'lo', 'run-a', null, ['127.0.0.2'], { rateKbit: 512 });
    const b = await applyPacket(tc, 'lo', 'run-b', null, ['127.0.0.3'], { rateKbit: 512 });
    expect(a.minor).not.toBe(b.minor);
    expect((await packetSlots(tc, 'lo')).map((s) => s.minor).sort()).toEqual([a.minor, b.minor].sort());
    await clearSlot(tc, a);
    expect(await show('qdisc')).toMatch(/^qdisc htb 7557: root/);
    expect((await packetSlots(tc, 'lo')).map((s) => s.minor)).toEqual([b.minor]);
    expect(await show('filter')).toContain('7f000003');
    expect(await show('filter')).not.toContain('7f000002');
    await clearSlot(tc, b);
    expect(await show('qdisc')).toMatch(/^qdisc noqueue 0: root/);
  });

  it('a root qdisc that is not ours is refused in one line and left alone', async () => {
    await tc.run(['qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb']);
    try {
      await expect(applyPacket(tc, 'lo', 'run-a', null, ['127.0.0.2'], { rateKbit: 512 })).rejects.toThrow(
        /^lo \(netns .*\) already has a root qdisc that is not Undertow's \(htb 1:\): packet faults will not replace it$/,
      );
      expect(await show('qdisc')).toMatch(/^qdisc htb 1: root/);
      expect(await show('class')).toBe('');
      // What `undertow test` checks before a run starts.
      expect(await rootFree(tc, 'lo')).toMatch(/already has a root qdisc that is not Undertow's \(htb 1:\)/);
    } finally {
      await tc.run(['qdisc', 'del', 'dev', 'lo', 'root']);
    }
  });

  it('tc takes the arguments of every drawn fault (where the kernel lacks netem, only the kernel refuses them, and the half-made class is removed)', async () => {
    const random = Random.seeded(21);
    for (let i = 0; i < 12; i++) {
      const n = drawNetem(PACKET_KINDS, random);
      const applied = applyPacket(tc, 'lo', `run-draw-${i}`, null, ['127.0.0.2'], n);
      if (netem.ok || !needsNetem(n)) await clearSlot(tc, await applied);
      else await expect(applied).rejects.toThrow(/Specified qdisc kind is unknown/);
      expect(await show('qdisc'), JSON.stringify(n)).toMatch(/^qdisc noqueue 0: root refcnt \d+$/);
      expect(await show('filter')).toBe('');
    }
  });

  it('the default root, or ours, is free for packet faults', async () => {
    expect(await rootFree(tc, 'lo')).toBeNull();
    const slot = await applyPacket(tc, 'lo', 'run-a', null, ['127.0.0.2'], { rateKbit: 512 });
    expect(await rootFree(tc, 'lo')).toBeNull();
    await clearSlot(tc, slot);
  });

  it('bad settings or sources change nothing', async () => {
    await expect(applyPacket(tc, 'lo', 'run-a', null, ['127.0.0.2'], {})).rejects.toThrow(/at least one/);
    await expect(applyPacket(tc, 'lo', 'run-a', null, ['localhost'], { rateKbit: 512 })).rejects.toThrow(/IPv4/);
    await expect(applyPacket(tc, 'lo', 'run-a', null, [], { rateKbit: 512 })).rejects.toThrow(/at least one node/);
    expect(await show('qdisc')).toMatch(/^qdisc noqueue 0: root/);
  });
});

// ---- Traffic on the host's loopback ----

const block = `127.${100 + Math.floor(Math.random() * 150)}.${1 + Math.floor(Math.random() * 250)}`;
const A = `${block}.2`;
const B = `${block}.3`;
const host = hostTc();

function listen(server: Server, ip: string): Promise<number> {
  return new Promise((r) => server.listen(0, ip, () => r((server.address() as AddressInfo).port)));
}

/** A server on `ip` that sends `bytes` to whoever connects, then closes. */
async function bulkServer(ip: string, bytes: number): Promise<{ server: Server; port: number }> {
  const payload = Buffer.alloc(bytes, 7);
  const server = createServer((s) => s.end(payload));
  return { server, port: await listen(server, ip) };
}

/** ms to download everything from ip:port (a client on 127.0.0.1). */
function download(ip: string, port: number): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let bytes = 0;
    const s = connect({ host: ip, port, localAddress: '127.0.0.1' });
    s.on('data', (d: Buffer) => (bytes += d.length));
    s.on('end', () => resolve({ ms: performance.now() - t0, bytes }));
    s.on('error', reject);
  });
}

/** An echo server on `ip`. */
async function echoServer(ip: string): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.pipe(s));
  return { server, port: await listen(server, ip) };
}

/** Median round trip (ms) of `n` one-byte pings on one connection from 127.0.0.1. */
async function rtt(ip: string, port: number, n = 15): Promise<number> {
  const s: Socket = connect({ host: ip, port, localAddress: '127.0.0.1' });
  s.setNoDelay(true);
  await new Promise((r) => s.once('connect', r));
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const got = new Promise((r) => s.once('data', r));
    s.write('x');
    await got;
    times.push(performance.now() - t0);
  }
  s.destroy();
  times.sort((a, b) => a - b);
  return times[Math.floor(n / 2)]!;
}

/** Datagrams received at `to` of `count` sent from `from` (bound to its address). */
async function udpCount(from: string, to: string, count: number): Promise<number> {
  const rx = createSocket('udp4');
  let got = 0;
  rx.on('message', () => got++);
  await new Promise<void>((r) => rx.bind(0, to, () => r()));
  const port = rx.address().port;
  const tx = createSocket('udp4');
  await new Promise<void>((r) => tx.bind(0, from, () => r()));
  for (let i = 0; i < count; i++) {
    await new Promise<void>((r) => tx.send(Buffer.from([i & 255]), port, to, () => r()));
    if (i % 50 === 0) await sleep(1);
  }
  await sleep(300);
  tx.close();
  rx.close();
  return got;
}

describe.skipIf(!usable.ok)("packet faults on the host's loopback: the targeted address only", () => {
  const servers: Server[] = [];

  afterAll(() => {
    for (const s of servers) s.close();
  });

  it("a rate limit on A slows A's downloads, not B's; cleared, A is fast again and lo is as it was", async () => {
    const bytes = 512 * 1024;
    const a = await bulkServer(A, bytes);
    const b = await bulkServer(B, bytes);
    servers.push(a.server, b.server);
    const freeA = await download(A, a.port);
    expect(freeA.bytes).toBe(bytes);
    // 2 Mbit/s = 256 KiB/s: 512 KiB from A take about 2 s.
    const id = `t${process.pid}-rate`;
    const slot = await apply(id, null, [A], { rateKbit: 2048 });
    try {
      const slowA = await download(A, a.port);
      const fastB = await download(B, b.port);
      console.log(`512 KiB download: A unlimited ${freeA.ms.toFixed(0)} ms; A at 2 Mbit/s ${slowA.ms.toFixed(0)} ms; B (no fault) ${fastB.ms.toFixed(0)} ms`);
      expect(slowA.bytes).toBe(bytes);
      // 2 s in theory, less the first 64 KiB of burst; unlimited, some ms.
      expect(slowA.ms).toBeGreaterThan(1000);
      expect(fastB.ms).toBeLessThan(600);
    } finally {
      await clear(id, slot);
    }
    const againA = await download(A, a.port);
    expect(againA.ms).toBeLessThan(600);
    await expectLoClean([slot.minor]);
  }, 30_000);

  it.skipIf(!netem.ok)(
    "100 ms of delay on A shows in A's round trips, not in B's; cleared, lo is as it was",
    async () => {
      const a = await echoServer(A);
      const b = await echoServer(B);
      servers.push(a.server, b.server);
      const freeA = await rtt(A, a.port);
      const id = `t${process.pid}-delay`;
      const slot = await apply(id, null, [A], { delayMs: 100 });
      let slowA = 0;
      let fastB = 0;
      try {
        slowA = await rtt(A, a.port);
        fastB = await rtt(B, b.port);
      } finally {
        await clear(id, slot);
      }
      const againA = await rtt(A, a.port);
      console.log(
        `median RTT: A ${freeA.toFixed(2)} ms; A with 100 ms delay ${slowA.toFixed(2)} ms; B meanwhile ${fastB.toFixed(2)} ms; A cleared ${againA.toFixed(2)} ms`,
      );
      expect(slowA).toBeGreaterThanOrEqual(99);
      expect(slowA).toBeLessThan(150);
      expect(fastB).toBeLessThan(20);
      expect(againA).toBeLessThan(20);
      await expectLoClean([slot.minor]);
    },
    30_000,
  );

  it.skipIf(!netem.ok)(
    '50% loss and 50% duplication on A: about half and about 1.5 times of what A sends arrives; B untouched',
    async () => {
      const n = 2000;
      const lossId = `t${process.pid}-loss`;
      const loss = await apply(lossId, null, [A], { lossPct: 50 });
      let lost = 0;
      let fromB = 0;
      try {
        lost = await udpCount(A, B, n);
        fromB = await udpCount(B, A, n);
      } finally {
        await clear(lossId, loss);
      }
      const dupId = `t${process.pid}-dup`;
      const dup = await apply(dupId, null, [A], { duplicatePct: 50 });
      let doubled = 0;
      try {
        doubled = await udpCount(A, B, n);
      } finally {
        await clear(dupId, dup);
      }
      console.log(`of ${n} datagrams: from A with 50% loss ${lost}; from B meanwhile ${fromB}; from A with 50% duplication ${doubled}`);
      expect(lost / n).toBeGreaterThan(0.4);
      expect(lost / n).toBeLessThan(0.6);
      expect(fromB).toBe(n);
      expect(doubled / n).toBeGreaterThan(1.4);
      expect(doubled / n).toBeLessThan(1.6);
      await expectLoClean([loss.minor, dup.minor]);
    },
    30_000,
  );

  it("by owner (nodes that dial from 127.0.0.1 as users of their own): one uid's uploads rate-limited, another's not; removed, nothing left", async () => {
    const uploads: number[] = [];
    const server = createServer((s) => {
      let t0 = 0;
      s.on('data', () => (t0 ||= performance.now()));
      s.on('end', () => {
        uploads.push(performance.now() - t0);
        s.end();
      });
    });
    servers.push(server);
    const port = await listen(server, '127.0.0.1');
    const bytes = 512 * 1024;
    const script = `const s=require('net').connect(${port},'127.0.0.1',()=>s.end(Buffer.alloc(${bytes})));s.on('data',()=>{});s.on('close',()=>process.exit(0))`;
    const uploadAs = async (uid: number): Promise<number> => {
      const n = uploads.length;
      await new Promise<void>((resolve, reject) => {
        const c = spawn(process.execPath, ['-e', script], { uid, gid: uid, cwd: '/', stdio: 'ignore' });
        c.on('error', reject);
        c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`uploader as ${uid} exited ${code}`))));
      });
      expect(uploads.length).toBe(n + 1);
      return uploads[n]!;
    };
    const [slowUid, fastUid] = [47_901, 47_902];
    // Not UNDERTOW-: a harness starting meanwhile would take it for a dead run's.
    const chain = `UTTEST-${process.pid.toString(36)}-q`;
    const nf = hostNetfilter();
    const id = `t${process.pid}-owner`;
    const slot = await apply(id, null, 'classified', { rateKbit: 2048 });
    let slow = 0;
    let fast = 0;
    try {
      await installClassify(nf, chain, [slowUid], slot);
      // iptables prints the class's minor as 4 hex digits (7557:0bce for minor 0xbce).
      expect(await nf.run(['-t', 'mangle', '-S', chain])).toContain(
        `--uid-owner ${slowUid} -j CLASSIFY --set-class 7557:${slot.minor.toString(16).padStart(4, '0')}`,
      );
      slow = await uploadAs(slowUid);
      fast = await uploadAs(fastUid);
    } finally {
      await removeClassify(nf, chain);
      await clear(id, slot);
    }
    const again = await uploadAs(slowUid);
    console.log(
      `512 KiB upload by owner: uid ${slowUid} at 2 Mbit/s ${slow.toFixed(0)} ms; uid ${fastUid} meanwhile ${fast.toFixed(0)} ms; uid ${slowUid} cleared ${again.toFixed(0)} ms`,
    );
    expect(slow).toBeGreaterThan(1000);
    expect(fast).toBeLessThan(600);
    expect(again).toBeLessThan(600);
    expect(await nf.run(['-t', 'mangle', '-S'])).not.toContain(chain);
    await expectLoClean([slot.minor]);
  }, 30_000);

  it("the local provider's cleanupLeftovers removes a dead run's class (named in its registry, or named nowhere)", async () => {
    // A dead harness: a process that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    const runId = `t${process.pid.toString(36)}dead`;
    const runDir = mkdtempSync(join(tmpdir(), 'undertow-packet-dead-'));
    const registry = join(tmpdir(), 'undertow-local');
    mkdirSync(registry, { recursive: true });
    const named = await apply(runId, null, [A], { rateKbit: 1024 });
    writeFileSync(
      join(registry, `${runId}.json`),
      JSON.stringify({ harnessPid: deadPid, runDir, chain: chainName(runId), pids: {}, packetMinor: named.minor }),
    );
    // And one whose registry file was lost.
    const orphan = await apply(`${runId}-orphan`, null, [B], { rateKbit: 1024 });
    rmSync(join(registry, `${runId}-orphan.json`), { force: true });
    try {
      expect((await packetSlots(host, 'lo')).map((s) => s.minor)).toEqual(expect.arrayContaining([named.minor, orphan.minor]));
      await localProvider().cleanupLeftovers();
      const left = (await packetSlots(host, 'lo')).map((s) => s.minor);
      expect(left).not.toContain(named.minor);
      expect(left).not.toContain(orphan.minor);
      await expectLoClean([named.minor, orphan.minor]);
    } finally {
      await clear(runId, named).catch(() => undefined);
      await clear(`${runId}-orphan`, orphan).catch(() => undefined);
      rmSync(join(registry, `${runId}.json`), { force: true });
      rmSync(runDir, { recursive: true, force: true });
    }
  }, 30_000);
});
