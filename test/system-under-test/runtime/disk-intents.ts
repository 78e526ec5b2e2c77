// Generated writes of one PacificA replica's disk, valid per the replica's
// rules, and what PacificaDisk (the reference semantics) holds after them:
// shared by the properties of the real log (ReplicaLog) and the simulated one
// (sim/replica-files.ts).

import fc from 'fast-check';
import type { GroupConfig, LogEntry, PersistRecord, ReplicaDiskState } from '../../../system-under-test/pacifica/types.js';
import { PacificaDisk } from '../../../system-under-test/sim/pacifica-disk.js';

export const cfg = (version: number, primary = 'a'): GroupConfig => ({ version, primary, secondaries: ['b', 'c'].filter((x) => x !== primary) });
export const entry = (sn: number, version = 1, value: number | string = sn): LogEntry => ({
  sn,
  version,
  id: `r${sn}.${version}`,
  op: { f: 'write', key: `k${sn % 3}`, value },
});

/** What PacificaDisk (the reference semantics) holds after the batches. */
export function reference(batches: readonly (readonly PersistRecord[])[]): ReplicaDiskState {
  const d = new PacificaDisk();
  for (const b of batches) d.write(b);
  return d.load();
}

/** What the generator asks for; interpreted against the reference state into records the replica could write. */
export type Intent =
  | { t: 'entries'; n: number; bump: boolean }
  | { t: 'commit'; ahead: number }
  | { t: 'truncate'; back: number }
  | { t: 'local-checkpoint'; back: number; kv: Record<string, number> }
  | { t: 'catch-up'; ahead: number }
  | { t: 'config'; primary: string }
  | { t: 'deposing' }
  | { t: 'flush' };

export const intent: fc.Arbitrary<Intent> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('entries' as const), n: fc.integer({ min: 1, max: 4 }), bump: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('commit' as const), ahead: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('truncate' as const), back: fc.nat(3) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('local-checkpoint' as const),
      back: fc.nat(3),
      kv: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.integer(), { maxKeys: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('catch-up' as const), ahead: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('config' as const), primary: fc.constantFrom('a', 'b', 'c') }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('deposing' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('flush' as const) }) },
);

/** Turn intents into write() batches valid per the replica's rules (contiguous entries, truncation only above commit, growing checkpoints). */
export function toBatches(intents: readonly Intent[]): PersistRecord[][] {
  const ref = new PacificaDisk();
  let version = 1;
  const batches: PersistRecord[][] = [];
  let batch: PersistRecord[] = [];
  const emit = (r: PersistRecord) => {
    ref.write([r]);
    batch.push(r);
  };
  for (const it of intents) {
    const s = ref.load();
    const end = s.checkpoint.sn + s.entries.length;
    const versionAt = (sn: number) => (sn === s.checkpoint.sn ? s.checkpoint.version : s.entries[sn - s.checkpoint.sn - 1].version);
    switch (it.t) {
      case 'entries':
        if (it.bump) version++;
        for (let i = 1; i <= it.n; i++) emit({ kind: 'entry', entry: entry(end + i, version) });
        break;
      case 'commit':
        if (s.commit < end) emit({ kind: 'commit', sn: Math.min(end, s.commit + it.ahead) });
        break;
      case 'truncate':
        emit({ kind: 'truncate', after: Math.max(s.commit, end - it.back) });
        break;
      case 'local-checkpoint': {
        const sn = s.commit - it.back;
        if (sn > s.checkpoint.sn) emit({ kind: 'checkpoint', checkpoint: { sn, version: versionAt(sn), kv: it.kv } });
        break;
      }
      case 'catch-up': {
        const sn = s.commit + it.ahead;
        version++;
        emit({ kind: 'checkpoint', checkpoint: { sn, version, kv: { caught: sn } } });
        emit({ kind: 'truncate', after: sn });
        break;
      }
      case 'config':
        version++;
        emit({ kind: 'config', config: cfg(version, it.primary) });
        break;
      case 'deposing':
        emit({ kind: 'deposing', version });
        break;
      case 'flush':
        batches.push(batch);
        batch = [];
        break;
    }
  }
  batches.push(batch);
  return batches;
}

/** PacificaDisk's state after each prefix of the records (0 .. all). */
export function prefixStates(batches: readonly (readonly PersistRecord[])[]): ReplicaDiskState[] {
  const ref = new PacificaDisk();
  const out = [ref.load()];
  for (const r of batches.flat()) {
    ref.write([r]);
    out.push(ref.load());
  }
  return out;
}

export function prefixIndex(states: readonly ReplicaDiskState[], s: ReplicaDiskState): number {
  const want = JSON.stringify(s);
  for (let k = states.length - 1; k >= 0; k--) if (JSON.stringify(states[k]) === want) return k;
  return -1;
}

/** Records valid after `s`, to check that a recovered disk takes writes again. */
export function more(s: ReplicaDiskState): PersistRecord[] {
  const end = s.checkpoint.sn + s.entries.length;
  return [
    { kind: 'entry', entry: entry(end + 1, 99, 'more') },
    { kind: 'entry', entry: entry(end + 2, 99, 'more') },
    { kind: 'commit', sn: end + 1 },
  ];
}
