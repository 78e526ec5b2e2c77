// The systems `--system` can name: the one place to add an adapter.

import type { SystemAdapter } from '../harness/core/system.js';
import { InputError } from '../history/input-error.js';
import { etcdAdapter } from './etcd/index.js';
import { referenceAdapter } from './reference/index.js';

export const SYSTEMS: Readonly<Record<string, SystemAdapter>> = {
  reference: referenceAdapter,
  etcd: etcdAdapter,
};
export const DEFAULT_SYSTEM = 'reference';

export function systemNamed(name: string): SystemAdapter {
  const s = Object.hasOwn(SYSTEMS, name) ? SYSTEMS[name] : undefined;
  if (!s) throw new InputError(`unknown system ${JSON.stringify(name)} in --system`, {}, `use one of: ${Object.keys(SYSTEMS).join(', ')}`);
  return s;
}
