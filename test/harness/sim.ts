// Helpers for driving generators in virtual time.

import type { History, Op } from '../../history/types.js';
import { NEMESIS } from '../../history/types.js';
import type { Responder } from '../../harness/core/generator/simulate.js';

export const MS = 1_000_000;

export const invokes = (h: History): Op[] => h.filter((o) => o.type === 'invoke');
export const clientInvokes = (h: History): Op[] => invokes(h).filter((o) => o.process !== NEMESIS);
export const completions = (h: History): Op[] => h.filter((o) => o.type !== 'invoke');

/** Ops complete ok after a random latency in [0, maxNs); a share of them fail or end info. */
export function randomResponses(maxNs: number, failShare = 0, infoShare = 0): Responder {
  return (_op, random) => {
    const x = random.float();
    const type = x < infoShare ? 'info' : x < infoShare + failShare ? 'fail' : 'ok';
    return { type, latencyNs: Math.floor(random.float() * maxNs), ...(type === 'info' && { error: 'timed-out' }) };
  };
}
