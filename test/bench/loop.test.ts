// The bench's loops against a client whose delays we choose: an open loop
// measures latency from each op's intended start, so a stall shows in every
// op that was due during it; a closed loop sees it in one op only
// (coordinated omission).

import { describe, expect, it } from 'vitest';
import { quantileMs } from '../../checkers/latency.js';
import type { Client } from '../../harness/core/client.js';
import { measurePoint, type LoopMode } from '../../harness/bench/loop.js';

const STALL_MS = 400;

/** Answers at once (next macrotask), except the first op sent at or after `stallAt`, which takes STALL_MS; one client at a time. */
function stallingClient(stallAt: number): () => Client {
  let stalled = false;
  return () => ({
    open: async () => undefined,
    invoke: async (op) => {
      const stall = !stalled && performance.now() >= stallAt;
      if (stall) stalled = true;
      await new Promise((r) => (stall ? setTimeout(r, STALL_MS) : setImmediate(r)));
      return { type: 'ok', value: op.f === 'read' ? 1 : op.value };
    },
    close: async () => undefined,
  });
}

async function point(mode: LoopMode) {
  const warmupS = 0.3;
  const stallAt = performance.now() + warmupS * 1000 + 700;
  let i = 0;
  return measurePoint({
    mode,
    warmupS,
    durationS: 2,
    newClient: stallingClient(stallAt),
    nodes: ['x'],
    nextOp: () => (i++ % 2 === 0 ? { f: 'read', key: 'k1' } : { f: 'write', key: 'k1', value: i }),
    opTimeoutMs: 5000,
  });
}

describe('bench loops and a client that stalls once for 400 ms', () => {
  it('open loop (200 ops/s, one client): the ~80 ops due during the stall each count their wait', async () => {
    const m = await point({ kind: 'open', rate: 200, clients: 1 });
    expect(m.fail + m.info).toBe(0);
    expect(m.unsent).toBe(0);
    // Every op due in the 2 s window was sent: 400, give or take the edges.
    expect(m.ok).toBeGreaterThanOrEqual(390);
    expect(m.ok).toBeLessThanOrEqual(401);
    const read = m.byF.get('read')!;
    const write = m.byF.get('write')!;
    for (const h of [read.latency, write.latency]) {
      // Ops due 0-300 ms into the stall waited 100-400 ms: 60 of ~400, so the 90th percentile is in the stall.
      expect(quantileMs(h, 0.9)).toBeGreaterThanOrEqual(90);
      expect(quantileMs(h, 0.5)).toBeLessThan(20);
    }
    expect(Math.max(read.latency.maxValue, write.latency.maxValue) / 1000).toBeGreaterThanOrEqual(STALL_MS - 10);
    // The service time (from sending) saw the stall once: its 90th percentile stays low.
    expect(quantileMs(read.service, 0.9)).toBeLessThan(20);
    expect(quantileMs(write.service, 0.9)).toBeLessThan(20);
    // The seconds: the stall's second has its latency.
    expect(m.seconds).toHaveLength(2);
    expect(m.seconds.reduce((n, s) => n + s.ok, 0)).toBeGreaterThanOrEqual(m.ok - 5);
  }, 20_000);

  it('closed loop (one client): the stall is one slow op among many', async () => {
    const m = await point({ kind: 'closed', concurrency: 1 });
    expect(m.fail + m.info).toBe(0);
    const all = [m.byF.get('read')!, m.byF.get('write')!];
    const count = all.reduce((n, h) => n + h.latency.totalCount, 0);
    expect(count).toBe(m.ok);
    expect(m.ok).toBeGreaterThan(1000);
    // One op took the stall ...
    expect(Math.max(...all.map((h) => h.latency.maxValue)) / 1000).toBeGreaterThanOrEqual(STALL_MS - 10);
    // ... and no percentile up to the 99.9th shows it.
    for (const h of all) expect(quantileMs(h.latency, 0.999)).toBeLessThan(50);
    expect(m.throughput).toBeCloseTo(m.ok / 2, 6);
    expect(m.harnessCpuUsPerOp).toBeGreaterThan(0);
  }, 20_000);

  it('an open loop at a rate beyond what the client serves counts the ops it could not send', async () => {
    let i = 0;
    const m = await measurePoint({
      mode: { kind: 'open', rate: 1000, clients: 2 },
      warmupS: 0,
      durationS: 1,
      // 20 ms per op on 2 clients: about 100 ops/s served of 1000 due.
      newClient: () => ({
        open: async () => undefined,
        invoke: () => new Promise((r) => setTimeout(() => r({ type: 'ok' }), 20)),
        close: async () => undefined,
      }),
      nodes: ['x'],
      nextOp: () => ({ f: 'read', key: `k${i++}` }),
      opTimeoutMs: 5000,
    });
    expect(m.ok).toBeGreaterThan(50);
    expect(m.ok).toBeLessThan(150);
    expect(m.ok + m.unsent).toBeGreaterThanOrEqual(990);
    // The last ops sent had waited most of the second.
    expect(m.byF.get('read')!.latency.maxValue / 1000).toBeGreaterThan(700);
  }, 20_000);
});
