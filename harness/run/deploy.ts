// From a test's system settings to a deployment: the adapter by name, its
// `--opt KEY=VALUE` options checked and filled in with defaults, and what the
// test asks of it (workload, fault kinds, bugs) checked against what it can
// do. Every mistake is one InputError line (exit 254) before anything starts.

import { systemNamed } from '../../adapters/index.js';
import type { Deployment, SystemAdapter } from '../core/system.js';
import { InputError } from '../../history/input-error.js';
import { resolveOptions } from '../core/options.js';

/** `KEY=VALUE` strings (repeatable --opt) to a record; a malformed one or a key given twice is an InputError. */
export function parseOpts(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new InputError(`--opt ${JSON.stringify(item)} is not KEY=VALUE`, {}, 'e.g. --opt reads=serializable');
    const key = item.slice(0, eq);
    if (Object.hasOwn(out, key)) throw new InputError(`--opt ${key} is given twice`);
    out[key] = item.slice(eq + 1);
  }
  return out;
}

export interface SystemRequest {
  readonly system: string;
  /** The adapter itself, for one that is not registered by name (a user's own, through the library API). */
  readonly adapter?: SystemAdapter;
  readonly nodes: number;
  readonly options: Readonly<Record<string, string>>;
  readonly bugs: readonly string[];
  readonly workload: string;
  readonly faults: readonly string[];
}

/** The system's deployment for a test, after checking the request against the adapter. */
export function deploySystem(r: SystemRequest): { adapter: SystemAdapter; deployment: Deployment; options: Record<string, string> } {
  const adapter = r.adapter ?? systemNamed(r.system);
  const caps = adapter.capabilities;
  if (!caps.workloads.includes(r.workload)) {
    throw new InputError(`system ${adapter.name} cannot run workload ${r.workload}`, {}, `its workloads: ${caps.workloads.join(', ')}`);
  }
  for (const f of r.faults) {
    if (!caps.faults.includes(f)) {
      const why = caps.refusals?.[f];
      throw new InputError(`system ${adapter.name} cannot take --nemesis ${f}${why ? `: ${why}` : ''}`, {}, `its faults: ${caps.faults.join(', ')}`);
    }
  }
  const known = adapter.bugs.map((b) => b.name);
  for (const b of r.bugs) {
    if (!known.includes(b))
      throw new InputError(
        `unknown bug ${JSON.stringify(b)} for system ${adapter.name}`,
        {},
        known.length > 0 ? `use one of: ${known.join(', ')}` : 'it has no seeded bugs',
      );
  }
  const options = resolveOptions(adapter, r.options);
  const deployment = adapter.deploy({ nodes: r.nodes, bugs: r.bugs, options, workload: r.workload });
  return { adapter, deployment, options };
}
