// The replicated key-value state machine: deterministic, applied in serial
// number order on every replica. read returns the value (null when absent);
// write sets it; cas sets `to` only if the value equals `from` (a definite
// failure otherwise); append adds to a list (an absent key is the empty list).

import type { ClientOp, KvValue, UpdateOp } from './types.js';

export type ApplyResult = { readonly ok: true; readonly value?: KvValue } | { readonly ok: false; readonly error: 'cas-mismatch' };

export function kvEqual(a: KvValue, b: KvValue): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  return a.every((x, i) => x === b[i]);
}

/** Apply an update to `kv` in place and return its result. */
export function applyUpdate(kv: Record<string, KvValue>, op: UpdateOp): ApplyResult {
  const cur = kv[op.key] ?? null;
  switch (op.f) {
    case 'write':
      kv[op.key] = op.value;
      return { ok: true };
    case 'cas':
      if (!kvEqual(cur, op.from)) return { ok: false, error: 'cas-mismatch' };
      kv[op.key] = op.to;
      return { ok: true };
    case 'append': {
      const list = Array.isArray(cur) ? cur : cur === null ? [] : [cur as number | string];
      kv[op.key] = [...list, op.value];
      return { ok: true };
    }
  }
}

export function readKey(kv: Readonly<Record<string, KvValue>>, key: string): KvValue {
  return kv[key] ?? null;
}

export function isUpdate(op: ClientOp): op is UpdateOp {
  return op.f !== 'read';
}
