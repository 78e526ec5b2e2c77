// When faults happen: quiet, start a fault of a kind chosen at random among
// the test's, hold it, stop it; again. With `overlap`, each kind runs that
// cycle on its own, so faults of different kinds are in force at once (a
// partition while a node is down, a clock jump during a pause), as Jepsen's
// combined nemesis package mixes its packages' generators.
// Targets and clock offsets are drawn here, from the generator's seeded
// random, so they are in the history's invocations and a seed replays them.

import { any, fromFn, ownRandom, sequence, sleep, type Context, type Generator, type OpSpec } from '../harness/core/generator/index.js';
import { CORRUPTIONS, type Corruption } from './corrupt.js';
import { PARTITIONS, TARGETS, type FaultKind, type PartitionShape, type Target } from './faults.js';
import type { Value } from '../history/types.js';
import { drawNetem, PACKET_KINDS, type PacketKind } from './packet.js';

export interface ScheduleOptions {
  kinds: readonly FaultKind[];
  /** Node names the clock faults may skew. */
  nodes: readonly string[];
  quietMs: number;
  /** Partition shapes to draw from (default: all). */
  partitions?: readonly PartitionShape[];
  /** What packet faults do, drawn from (default: all of delay, loss, duplicate, reorder, rate). */
  packet?: readonly PacketKind[];
  /** What corrupt faults do, drawn from (default: both, bitflip and truncate). */
  corruptions?: readonly Corruption[];
  /** Whom kill, pause, power, corrupt and packet faults aim at (default: all of random, primary, leader). */
  targets?: readonly Target[];
  /** What the system's membership fault can take out (its adapter's targets); required for `member`. */
  memberTargets?: readonly string[];
  /** The mean time a fault is held; each hold is drawn from [0.25, 1.75) of it (a quarter of kills: restarted at once, see holdFor). */
  holdMs: number;
  /** One schedule per kind, run side by side (faults of different kinds overlap). Default: one fault at a time. */
  overlap?: boolean;
  /** The schedule's own random stream (kinds, targets, shapes, holds): the same seed, the same faults. */
  seed?: number;
}

const pick = <T>(ctx: Context, xs: readonly T[]): T => xs[ctx.random.int(xs.length)];

function someNodes(ctx: Context, nodes: readonly string[]): string[] {
  const chosen = nodes.filter(() => ctx.random.float() < 0.5);
  return chosen.length > 0 ? chosen : [pick(ctx, nodes)];
}

/** The start and stop ops of one fault of `kind`. */
export function faultOps(kind: FaultKind, ctx: Context, o: ScheduleOptions): [OpSpec, OpSpec] {
  switch (kind) {
    case 'kill':
      return [{ f: 'kill', value: pick(ctx, o.targets ?? TARGETS) }, { f: 'start' }];
    case 'pause':
      return [{ f: 'pause', value: pick(ctx, o.targets ?? TARGETS) }, { f: 'resume' }];
    case 'corrupt':
      return [{ f: 'corrupt', value: { target: pick(ctx, o.targets ?? TARGETS), how: pick(ctx, o.corruptions ?? CORRUPTIONS) } }, { f: 'start' }];
    case 'power':
      return [{ f: 'power-off', value: pick(ctx, o.targets ?? TARGETS) }, { f: 'power-on' }];
    case 'partition':
      return [{ f: 'partition', value: pick(ctx, o.partitions ?? PARTITIONS) }, { f: 'heal' }];
    case 'member': {
      // One of the system's membership changes out, and back (the reference system: a data server
      // out of its groups, a running one out of the groups where it is a secondary, a CM member).
      const target = pick(ctx, o.memberTargets ?? []);
      if (target === undefined) throw new Error('the member fault needs memberTargets (the system has no membership changes)');
      return [
        { f: 'member-remove', value: target },
        { f: 'member-add', value: target },
      ];
    }
    case 'packet': {
      // A random subset of the nodes, or the one a role names when the fault starts (the leader, a primary).
      const target = pick(ctx, o.targets ?? TARGETS);
      const at: Record<string, Value> = target === 'random' ? { nodes: someNodes(ctx, o.nodes) } : { target };
      const netem = drawNetem(o.packet ?? PACKET_KINDS, ctx.random) as Record<string, Value>;
      return [{ f: 'packet', value: { ...at, netem } }, { f: 'packet-clear' }];
    }
    case 'clock': {
      const nodes = someNodes(ctx, o.nodes);
      // Jumps of a few seconds either way: several leases long, so a lease timed on the wall clock breaks.
      const deltaMs = (ctx.random.float() < 0.5 ? -1 : 1) * (2000 + ctx.random.int(8000));
      const start: OpSpec =
        ctx.random.float() < 0.5
          ? { f: 'clock-bump', value: { nodes, deltaMs } }
          : { f: 'clock-strobe', value: { nodes, deltaMs, periodMs: 200 + ctx.random.int(300), durationMs: Math.min(o.holdMs, 3000) } };
      return [start, { f: 'clock-reset' }];
    }
  }
}

/** Below this share of draws a kill is a crash with an immediate restart (see holdFor). */
export const RESTART_AT_ONCE = 0.25;
/** The longest hold of a crash with an immediate restart. */
export const RESTART_AT_ONCE_MS = 200;

/**
 * How long a fault of `kind` is held, from one draw `u` in [0, 1). Holds vary:
 * a fault that ends around a lease or grace period finds other bugs than one
 * held long. A quarter of kills restart at once (at most 200 ms down): the
 * node comes back before its lease or grace period ends, so a crashed primary
 * can return as primary and recover in place, which a kill held for seconds
 * never lets happen. One draw either way, so the draws after it (and so a
 * seed's later faults) stay where they were.
 */
export function holdFor(kind: FaultKind, meanMs: number, u: number): number {
  if (kind === 'kill' && u < RESTART_AT_ONCE) return (u / RESTART_AT_ONCE) * RESTART_AT_ONCE_MS;
  return meanMs * (0.25 + 1.5 * u);
}

export function faultSchedule(o: ScheduleOptions): Generator {
  if (o.kinds.length === 0) return sequence([]);
  if (o.overlap === true && o.kinds.length > 1) {
    return any(...o.kinds.map((kind, i) => faultSchedule({ ...o, kinds: [kind], overlap: false, seed: o.seed === undefined ? undefined : o.seed + i })));
  }
  // Drawn from a stream of its own when seeded, so that the client ops asked for meanwhile (as many as the
  // timing allows) do not move its draws: the same seed gives the same faults in the same order.
  const schedule = fromFn((ctx) => {
    const kind = pick(ctx, o.kinds);
    const [start, stop] = faultOps(kind, ctx, o);
    const holdMs = holdFor(kind, o.holdMs, ctx.random.float());
    return sequence([sleep(Math.round(o.quietMs * 1e6)), start, sleep(Math.round(holdMs * 1e6)), stop]);
  });
  return o.seed === undefined ? schedule : ownRandom(o.seed, schedule);
}

/** Ends every fault in force: before the final quiet phase and reads. */
export const HEAL_ALL: OpSpec = { f: 'heal-all' };
