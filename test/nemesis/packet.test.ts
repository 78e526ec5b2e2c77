// Packet faults, the pure part: netem and HTB arguments from the settings,
// the settings a fault draws, the schedule's packet ops, and `--packet`.

import { describe, expect, it } from 'vitest';
import { Random } from '../../harness/core/generator/random.js';
import { parsePacket, testConfig, type TestArgs } from '../../harness/run/test-flags.js';
import { InputError } from '../../history/input-error.js';
import { checkNetem, classMinor, describeNetem, drawNetem, netemArgs, PACKET_KINDS, rateArgs, TC_MAJOR } from '../../nemesis/packet.js';
import { faultOps } from '../../nemesis/schedule.js';

describe('netem arguments', () => {
  it('delay with jitter, reorder, loss, duplicate, in the order tc takes them, with a queue a delayed node does not overflow', () => {
    expect(netemArgs({ delayMs: 100 })).toEqual(['delay', '100ms', 'limit', '100000']);
    expect(netemArgs({ delayMs: 100, jitterMs: 10 })).toEqual(['delay', '100ms', '10ms', 'limit', '100000']);
    expect(netemArgs({ delayMs: 20, jitterMs: 0, reorderPct: 25, lossPct: 5, duplicatePct: 7 })).toEqual([
      'delay',
      '20ms',
      'reorder',
      '25%',
      'loss',
      'random',
      '5%',
      'duplicate',
      '7%',
      'limit',
      '100000',
    ]);
    expect(netemArgs({ lossPct: 50 })).toEqual(['loss', 'random', '50%', 'limit', '100000']);
  });

  it('a rate limit alone needs no netem (an HTB class); without one the class is not a limit', () => {
    expect(netemArgs({ rateKbit: 512 })).toEqual([]);
    expect(rateArgs({ rateKbit: 512 })).toEqual(['rate', '512kbit', 'ceil', '512kbit', 'quantum', '65536', 'burst', '65536', 'cburst', '65536']);
    expect(rateArgs({ delayMs: 5 }).slice(0, 4)).toEqual(['rate', '100gbit', 'ceil', '100gbit']);
  });

  it('refuses settings tc would refuse, or that do nothing', () => {
    expect(() => checkNetem({})).toThrow(/at least one/);
    expect(() => checkNetem({ jitterMs: 5 })).toThrow(/jitterMs needs a delayMs/);
    expect(() => checkNetem({ reorderPct: 10 })).toThrow(/reorderPct needs a delayMs/);
    expect(() => checkNetem({ lossPct: 101 })).toThrow(/lossPct/);
    expect(() => checkNetem({ delayMs: -1 })).toThrow(/delayMs/);
    expect(() => checkNetem({ rateKbit: Number.NaN })).toThrow(/rateKbit/);
    expect(() => checkNetem({ delayMs: '5' as unknown as number })).toThrow(/delayMs/);
  });

  it('says what it does in one line', () => {
    expect(describeNetem({ delayMs: 100, jitterMs: 10, lossPct: 5, rateKbit: 512 })).toBe('delay 100ms±10ms, loss 5%, rate 512kbit');
  });

  it("a run's class minor is fixed by its run id, never our major, within u16", () => {
    for (const id of ['a', 'b', 'mr1x2y3z', 'x'.repeat(40)]) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const m = classMinor(id, attempt);
        expect(m).toBe(classMinor(id, attempt));
        expect(m).toBeGreaterThanOrEqual(0x10);
        expect(m).toBeLessThan(0xfff0);
        expect(m).not.toBe(parseInt(TC_MAJOR, 16));
      }
    }
    expect(classMinor('a')).not.toBe(classMinor('b'));
  });
});

describe('drawn settings', () => {
  it('only the chosen kinds, at least one, within their ranges, and valid for netem', () => {
    const random = Random.seeded(7);
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const kinds = PACKET_KINDS.filter((_, j) => (i >> j) & 1);
      if (kinds.length === 0) continue;
      const n = drawNetem(kinds, random);
      checkNetem(n);
      const has = Object.keys(n);
      for (const k of has) seen.add(k);
      if (!kinds.includes('delay') && !kinds.includes('reorder')) expect(n.delayMs).toBeUndefined();
      if (!kinds.includes('loss')) expect(n.lossPct).toBeUndefined();
      if (!kinds.includes('duplicate')) expect(n.duplicatePct).toBeUndefined();
      if (!kinds.includes('reorder')) expect(n.reorderPct).toBeUndefined();
      if (!kinds.includes('rate')) expect(n.rateKbit).toBeUndefined();
      if (n.delayMs !== undefined) expect(n.delayMs).toBeGreaterThanOrEqual(10);
      if (n.delayMs !== undefined) expect(n.delayMs).toBeLessThanOrEqual(500);
      if (n.lossPct !== undefined) expect(n.lossPct).toBeGreaterThanOrEqual(5);
      if (n.lossPct !== undefined) expect(n.lossPct).toBeLessThanOrEqual(30);
      if (n.rateKbit !== undefined) expect(n.rateKbit).toBeGreaterThanOrEqual(256);
      if (n.rateKbit !== undefined) expect(n.rateKbit).toBeLessThanOrEqual(8192);
    }
    expect([...seen].sort()).toEqual(['delayMs', 'duplicatePct', 'jitterMs', 'lossPct', 'rateKbit', 'reorderPct']);
  });
});

describe('the schedule', () => {
  const ctxOf = (seed: number) => ({ random: Random.seeded(seed) }) as unknown as Parameters<typeof faultOps>[1];
  const o = { kinds: ['packet' as const], nodes: ['d1', 'd2', 'd3'], quietMs: 1, holdMs: 1 };

  it('a packet op with nodes and netem settings, then packet-clear; the same seed, the same fault', () => {
    const [start, stop] = faultOps('packet', ctxOf(3), { ...o, targets: ['random'], packet: ['delay'] });
    expect(stop).toEqual({ f: 'packet-clear' });
    expect(start.f).toBe('packet');
    const v = start.value as { nodes: string[]; netem: { delayMs: number } };
    expect(v.nodes.length).toBeGreaterThan(0);
    for (const n of v.nodes) expect(o.nodes).toContain(n);
    expect(v.netem.delayMs).toBeGreaterThanOrEqual(50);
    expect(faultOps('packet', ctxOf(3), { ...o, targets: ['random'], packet: ['delay'] })).toEqual([start, stop]);
  });

  it('aimed at a role (--targets leader) the op names the role, resolved when it starts', () => {
    const [start] = faultOps('packet', ctxOf(4), { ...o, targets: ['leader'], packet: ['rate'] });
    const v = start.value as { target: string; nodes?: string[]; netem: { rateKbit: number } };
    expect(v.target).toBe('leader');
    expect(v.nodes).toBeUndefined();
    expect(Object.keys(v.netem)).toEqual(['rateKbit']);
  });
});

describe('--packet', () => {
  const args: TestArgs = {
    system: 'reference',
    opt: [],
    workload: 'register',
    nemesis: 'packet',
    partitions: 'halves',
    packet: 'delay,loss,duplicate,reorder,rate',
    targets: 'random',
    provider: 'local',
    nodes: 3,
    concurrency: 10,
    rate: 100,
    'time-limit': 30,
    'nemesis-interval': 5,
    'nemesis-overlap': false,
    quiet: 5,
    'op-timeout': 3,
    store: 'store',
    bug: [],
    'test-count': 1,
    keys: 4,
    'ops-per-key': 100,
    reads: 1 / 3,
  };

  it('a comma list of kinds, duplicates dropped, into test.json', () => {
    expect(parsePacket('delay, loss,delay')).toEqual(['delay', 'loss']);
    expect(testConfig({ ...args, packet: 'rate' }).packet).toEqual(['rate']);
    expect(testConfig(args).packet).toEqual(['delay', 'loss', 'duplicate', 'reorder', 'rate']);
    expect(testConfig(args).nemesis).toEqual(['packet']);
  });

  it('an unknown kind is one InputError line', () => {
    let e: unknown;
    try {
      parsePacket('delay,jitter');
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(/unknown packet fault "jitter" in --packet/);
    expect((e as Error).message.split('\n')).toHaveLength(1);
  });

  it('etcd (nodes told apart by owner on loopback) takes it on both providers', () => {
    expect(testConfig({ ...args, system: 'etcd' }).nemesis).toEqual(['packet']);
    expect(testConfig({ ...args, system: 'etcd', provider: 'docker' }).nemesis).toEqual(['packet']);
  });
});
