// The replicated key-value state machine: deterministic, applied in serial
// number order on every replica. read returns the value (null when absent);
// write sets it; cas sets `to` only if the value equals `from` (a definite
// failure otherwise); append adds to a list (an absent key is the empty list);
// transfer moves an amount between two numeric balances (absent = 0), a
// definite failure when the source would go negative. A failed cas or transfer
// is still a committed log entry: a no-op, so every replica fails it alike.

import type { ClientOp, KvValue, ReadOp, UpdateOp } from './types.js';

export type ApplyResult =
  | { readonly ok: true; readonly value?: KvValue }
  | { readonly ok: false; readonly error: 'cas-mismatch' | 'insufficient' | 'not-a-number' };

export function kvEqual(a: KvValue, b: KvValue): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  return a.every((x, i) => x === b[i]);
}

/** Apply an update to `kv` in place and return its result. */
export function applyUpdate(kv: Record<string, KvValue>, op: UpdateOp): ApplyResult {
  switch (op.f) {
    case 'write':
      kv[op.key] = op.value;
      return { ok: true };
    case 'cas':
      if (!kvEqual(kv[op.key] ?? null, op.from)) return { ok: false, error: 'cas-mismatch' };
      kv[op.key] = op.to;
      return { ok: true };
    case 'append': {
      const cur = kv[op.key] ?? null;
      const list = Array.isArray(cur) ? cur : cur === null ? [] : [cur as number | string];
      kv[op.key] = [...list, op.value];
      return { ok: true };
    }
    case 'transfer': {
      const from = kv[op.from] ?? 0;
      const to = kv[op.to] ?? 0;
      if (typeof from !== 'number' || typeof to !== 'number') return { ok: false, error: 'not-a-number' };
      if (from - op.amount < 0) return { ok: false, error: 'insufficient' };
      kv[op.from] = from - op.amount;
      kv[op.to] = (op.from === op.to ? from - op.amount : to) + op.amount;
      return { ok: true };
    }
  }
}

export function readKey(kv: Readonly<Record<string, KvValue>>, key: string): KvValue {
  return kv[key] ?? null;
}

/** A read's answer: one value, or (read-many) every key's value. */
export function applyRead(kv: Readonly<Record<string, KvValue>>, op: ReadOp): KvValue | Record<string, KvValue> {
  if (op.f === 'read') return readKey(kv, op.key);
  const out: Record<string, KvValue> = {};
  for (const k of op.keys) out[k] = readKey(kv, k);
  return out;
}

export function isUpdate(op: ClientOp): op is UpdateOp {
  return op.f !== 'read' && op.f !== 'read-many';
}

/** The keys an operation touches (all must hash to the replica's group). */
export function keysOf(op: ClientOp): readonly string[] {
  switch (op.f) {
    case 'read-many':
      return op.keys;
    case 'transfer':
      return [op.from, op.to];
    default:
      return [op.key];
  }
}
