// The workloads by name: the one place to add a workload. Each is a
// `WorkloadDefinition` (harness/core/workload.ts): its generators and its
// checkers; the systems' clients carry out its ops.

import type { WorkloadDefinition } from '../harness/core/workload.js';
import { InputError } from '../history/input-error.js';
import { append } from './append.js';
import { bank } from './bank.js';
import { register } from './register.js';
import { set } from './set.js';
import { versionRegister } from './version-register.js';

export const WORKLOADS: Readonly<Record<string, WorkloadDefinition>> = { register, set, append, bank, 'version-register': versionRegister };
export const WORKLOAD_NAMES: readonly string[] = Object.keys(WORKLOADS);

export function workloadNamed(name: string): WorkloadDefinition {
  const w = Object.hasOwn(WORKLOADS, name) ? WORKLOADS[name] : undefined;
  if (!w) throw new InputError(`unknown workload ${JSON.stringify(name)}`, {}, `use one of: ${WORKLOAD_NAMES.join(', ')}`);
  return w;
}

export { register, set, append, bank, versionRegister };
