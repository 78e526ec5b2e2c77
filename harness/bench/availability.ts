// What a fault did to a bench's clients, from the ops they saw: the share of
// ops that succeeded while it lasted (availability), and the time from the
// fault until the system served again (recovery). The harness knows no
// system, so neither figure asks it anything: both come from the ops' times
// and outcomes alone, as a user with only a client would measure them.
//
// Definitions (README, "Faults during a bench"). A fault starts at S (the
// invocation of its start op: the kill, the partition) and ends at E (the
// completion of its stop op: the node started again, the network healed).
// Its horizon H is the next fault's start or the end of the point's window:
// ops sent from H on belong to the next fault or to nothing.
//
//   recovery: keys are hashed into KEY_BUCKETS buckets. A bucket serves
//     again at the completion of its first ok op sent after its last op that
//     failed or went unknown (sent in [S, H)); a bucket with no such op at
//     the completion of its first ok op sent at or after S (an op that
//     failed only after H, in flight when the next fault started, is not
//     held against this fault: the next one may have failed it). The system
//     serves again at R, the latest of its buckets' times (buckets with no
//     ops sent in [S, H) are not looked at); recovery is R - S. It is null
//     when some bucket never served again before H. A fault that disturbed
//     nothing recovers in about one op's latency. Ops count from when they
//     were sent, not from when they failed: a client that waits out a
//     timeout on a dead node does not delay R once other ops succeed. And
//     per bucket, not overall: one group of keys still refused while others
//     are served is not recovered.
//   availability: the share of ops ok among those sent in [S, U), where U is
//     the later of E and R (H when R is null), but no later than H: the
//     fault and the time it took to get over it.
//   longest ok: the longest latency of an op that succeeded in [S, U): a
//     stall that ended before the op timeout fails nothing and shows here.
//
// In an open loop "sent" is when the op was due (latency from the intended
// start): an op due during an outage that waited for a free client counts
// where it was due.

import type { Value } from '../../history/types.js';

/** One op a bench client completed: times in ms on one clock (performance.now()). */
export interface TimelineOp {
  /** When it was sent (closed loop) or due (open loop). */
  sent: number;
  done: number;
  type: 'ok' | 'fail' | 'info';
  /** keyBucket of its key. */
  bucket: number;
  /** The error of an op that failed or went unknown. */
  error?: string;
}

export interface FaultSpan {
  /** When the fault started and ended, and the horizon (see above); ms, on the ops' clock. */
  start: number;
  end: number;
  horizon: number;
}

export interface FaultEffect {
  /** When every bucket served again (ms on the ops' clock), or null when some did not before the horizon. */
  servedAgainAt: number | null;
  /** servedAgainAt - start, in seconds, or null. Never negative. */
  recoveryS: number | null;
  /** Ops sent in [start, U): ok, failed, unknown. */
  ok: number;
  fail: number;
  info: number;
  /** ok / (ok + fail + info) over [start, U); null when no op was sent then. */
  availability: number | null;
  /** The longest latency (ms) of an ok op sent in [start, U); null when none. */
  longestOkMs: number | null;
  /** The errors of the ops that failed or went unknown in [start, U), by kind, with counts (the first 10 kinds). */
  errors: Record<string, number>;
}

export const KEY_BUCKETS = 16;

/** The bucket of a key (FNV-1a of its text); ops without a key are all in bucket 0. */
export function keyBucket(key: unknown): number {
  if (key === undefined || key === null) return 0;
  const text = String(key);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % KEY_BUCKETS;
}

/** What a fault did to `ops` (any order), by the definitions above. */
export function faultEffect(ops: readonly TimelineOp[], span: FaultSpan): FaultEffect {
  const { start: S, horizon: H } = span;
  const inFault = ops.filter((o) => o.sent >= S && o.sent < H);
  const buckets = new Map<number, TimelineOp[]>();
  for (const o of inFault) {
    const list = buckets.get(o.bucket) ?? [];
    list.push(o);
    buckets.set(o.bucket, list);
  }
  let servedAgainAt: number | null = inFault.length > 0 ? S : null;
  for (const list of buckets.values()) {
    // A failure known only after the horizon (an op in flight when the next fault started) may be the next fault's doing.
    const lastBad = list.reduce((t, o) => (o.type !== 'ok' && o.done <= H && o.sent > t ? o.sent : t), -Infinity);
    // (A loop, not Math.min(...): a bucket can hold more ops than a call takes arguments.)
    let at = Infinity;
    for (const o of list) if (o.type === 'ok' && o.sent > lastBad && o.done < at) at = o.done;
    if (at === Infinity) {
      servedAgainAt = null;
      break;
    }
    if (servedAgainAt !== null) servedAgainAt = Math.max(servedAgainAt, at);
  }
  const until = Math.min(H, Math.max(span.end, servedAgainAt ?? H));
  const counted = inFault.filter((o) => o.sent < until);
  const effect: FaultEffect = {
    servedAgainAt,
    recoveryS: servedAgainAt === null ? null : (servedAgainAt - S) / 1000,
    ok: 0,
    fail: 0,
    info: 0,
    availability: null,
    longestOkMs: null,
    errors: {},
  };
  for (const o of counted) {
    effect[o.type]++;
    if (o.type === 'ok') effect.longestOkMs = Math.max(effect.longestOkMs ?? 0, o.done - o.sent);
    else {
      const key = `${o.type}: ${(o.error ?? '').slice(0, 120)}`;
      if (key in effect.errors || Object.keys(effect.errors).length < 10) effect.errors[key] = (effect.errors[key] ?? 0) + 1;
    }
  }
  const total = effect.ok + effect.fail + effect.info;
  effect.availability = total > 0 ? effect.ok / total : null;
  return effect;
}

/** A fault as the nemesis history tells it: from its start op's invocation to its stop op's completion. */
export interface Fault {
  /** The start op (kill, pause, partition, ...), what the schedule asked (a target, a shape) and what was done (the node, the grudge). */
  f: string;
  asked: Value;
  did: Value;
  /** The op that ended it (start, resume, heal, ...; heal-all at the end of the point), or null when it never ended. */
  stoppedBy: string | null;
  /** In ms on the ops' clock (faults.ts's faultSpans), or in seconds since the bench started (bench.json). */
  start: number;
  end: number | null;
}

/** One fault of a point, in bench.json, with what it did to the clients. Times in seconds since the bench started. */
export interface FaultRecord extends Fault, Omit<FaultEffect, 'servedAgainAt'> {
  /** When every key bucket was served again, or null (not before the next fault or the end of the window). */
  servedAgainAt: number | null;
}

/** A fault in a few words: "kill primary: n2", "partition halves: n1 | n2 n3". */
export function describeFault(r: Pick<FaultRecord, 'f' | 'asked' | 'did'>): string {
  const asked = typeof r.asked === 'string' ? r.asked : r.asked === null ? '' : JSON.stringify(r.asked);
  const did = (r.did ?? {}) as Record<string, Value>;
  const what =
    typeof did !== 'object' || Array.isArray(did)
      ? JSON.stringify(did)
      : [did.node, Array.isArray(did.nodes) ? did.nodes.join(' ') : undefined, did.about, did.note, did.error]
          .filter((x) => x !== undefined && x !== null && x !== '')
          .map(String)
          .join('; ');
  return `${r.f}${asked.length > 0 && asked.length < 40 ? ` ${asked}` : ''}${what ? `: ${what}` : ''}`;
}
