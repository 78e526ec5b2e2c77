// Fault schedules: the nemesis alternates between starting a fault and
// stopping it, with a quiet period before each start and the fault held for a
// given time. Route the result to the nemesis with `nemesis(...)` or
// `clientsAndNemesis(...)`.

import { sequence } from './basic.js';
import { cycle } from './control.js';
import { sleep, stagger } from './timing.js';
import type { Generator, OpSpec } from './types.js';

export interface StartStopOptions {
  start: OpSpec;
  stop: OpSpec;
  /** Quiet time before each start, counted from when the previous stop completed. */
  quietNs: number;
  /** How long each fault is held, counted from when its start completed. */
  faultNs: number;
  /** Number of start/stop rounds; forever by default (bound it with timeLimit). */
  rounds?: number;
}

/** quiet, start, hold, stop; again. */
export function startStopCycle(o: StartStopOptions): Generator {
  return cycle(sequence([sleep(o.quietNs), o.start, sleep(o.faultNs), o.stop]), o.rounds ?? Infinity);
}

/**
 * Jepsen's classic nemesis rhythm: start and stop alternate, at random
 * intervals that average `meanNs` (uniform in [0, 2·mean)), measured from
 * when each op was due rather than from its completion.
 */
export function staggeredStartStop(start: OpSpec, stop: OpSpec, meanNs: number): Generator {
  return stagger(meanNs, cycle([start, stop]));
}
