// The client library's outcome as a history completion. The library already
// says ok, fail (certainly not applied) or info (unknown); the workloads only
// shape read values for their checkers.

import type { ClientResult } from '../harness/workers.js';
import type { Value } from '../history/types.js';
import type { KvOutcome } from '../system-under-test/client/index.js';

export function completion(o: KvOutcome, value?: (v: unknown) => Value): ClientResult {
  switch (o.type) {
    case 'ok':
      return value ? { type: 'ok', value: value(o.value ?? null) } : { type: 'ok' };
    case 'fail':
      return { type: 'fail', error: o.error };
    default:
      return { type: 'info', error: o.error };
  }
}

/** A list read: an absent key is the empty list. */
export const asList = (v: unknown): Value => (v === null || v === undefined ? [] : (v as Value));
