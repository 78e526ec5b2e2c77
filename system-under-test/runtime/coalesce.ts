// Merging prepares before they leave. Under load the primary emits, in one
// Output, one prepare per client request per peer, each carrying the entries
// after the previous one. Consecutive prepares to the same peer under the
// same configuration are contiguous (`prevSn` of the next = the end of the
// previous), so they can travel as one: the first's `prevSn`/`prevVersion`,
// all the entries, the latest commit point and the latest send time. The
// secondary then does one step, one disk write and one acknowledgement for the
// lot. Taking the latest `sentAt` is safe for leases: the merged message
// leaves after every one of the originals was created, so the lease the
// acknowledgement grants still starts no later than the actual send.

import type { Envelope, PMessage } from '../pacifica/types.js';

type Prepare = Extract<PMessage, { kind: 'prepare' }>;

/** `envs` with consecutive contiguous prepares to the same peer merged; every other message keeps its place. */
export function coalescePrepares(envs: readonly Envelope[]): Envelope[] {
  if (envs.length < 2) return [...envs];
  const out: Envelope[] = [];
  /** Per destination: the index in `out` of its last message if that is a prepare that may still grow. */
  const open = new Map<string, number>();
  for (const e of envs) {
    const m = e.msg;
    const i = open.get(e.to);
    if (m.kind === 'prepare' && i !== undefined) {
      const prev = out[i].msg as Prepare;
      if (
        m.checkpoint === null &&
        m.group === prev.group &&
        m.config.version === prev.config.version &&
        m.prevSn === prev.prevSn + prev.entries.length &&
        m.commit >= prev.commit &&
        m.sentAt >= prev.sentAt
      ) {
        out[i] = { ...out[i], msg: { ...prev, entries: [...prev.entries, ...m.entries], commit: m.commit, sentAt: m.sentAt } };
        continue;
      }
    }
    if (m.kind === 'prepare') open.set(e.to, out.length);
    else open.delete(e.to);
    out.push(e);
  }
  return out;
}
