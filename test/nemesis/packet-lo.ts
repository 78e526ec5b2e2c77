// What the packet tests check on the host's loopback, which other tests (and
// runs of the harness) may use at the same time: nothing of ours is left
// (no class of these minors, no filter of their priority), and our root is
// on lo only while some other user still holds a class in it. Read under the
// harnesses' loopback lock, so the picture is never half-made.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { chainName } from '../../nemesis/iptables.js';
import { applyPacket, classMinor, clearSlot, hostTc, TC_MAJOR, withLoopbackLock, type Netem, type PacketSlot } from '../../nemesis/packet.js';

const host = hostTc();

export async function expectLoClean(minors: readonly number[]): Promise<void> {
  const s = await withLoopbackLock(async () => ({
    qdisc: await host.run(['qdisc', 'show', 'dev', 'lo']),
    classes: await host.run(['class', 'show', 'dev', 'lo']),
    filters: await host.run(['filter', 'show', 'dev', 'lo']),
  }));
  for (const m of minors) {
    expect(s.classes).not.toContain(`${TC_MAJOR}:${m.toString(16)} `);
    expect(s.filters).not.toMatch(new RegExp(`pref ${m} `));
  }
  if (new RegExp(`^qdisc htb ${TC_MAJOR}: root`, 'm').test(s.qdisc))
    expect(s.classes, 'our root on lo holds no class').toMatch(new RegExp(`^class htb ${TC_MAJOR}:`, 'm'));
  else expect(s.qdisc).toMatch(/^qdisc noqueue 0: root/m);
}

/** The minors a run id may have claimed. */
export const minorsOf = (runId: string): number[] => Array.from({ length: 20 }, (_, i) => classMinor(runId, i));

const REGISTRY = join(tmpdir(), 'undertow-local');

/**
 * Applies on the host's lo as a run does: under the lock, and registered as
 * a live run's class (so that a harness starting meanwhile, in another test
 * file, does not take it for a dead run's leftover).
 */
export function apply(runId: string, slot: PacketSlot | null, sources: string[] | 'classified', n: Netem): Promise<PacketSlot> {
  return withLoopbackLock(() =>
    applyPacket(host, 'lo', runId, slot, sources, n, (claimed) => {
      mkdirSync(REGISTRY, { recursive: true });
      writeFileSync(
        join(REGISTRY, `${runId}.json`),
        JSON.stringify({ harnessPid: process.pid, runDir: tmpdir(), chain: chainName(runId), pids: {}, packetMinor: claimed.minor }),
      );
    }),
  );
}

export async function clear(runId: string, slot: PacketSlot): Promise<void> {
  await withLoopbackLock(() => clearSlot(host, slot));
  rmSync(join(REGISTRY, `${runId}.json`), { force: true });
}
