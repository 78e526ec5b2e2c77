// A system's `--opt KEY=VALUE` options, checked against what its adapter
// declares and filled in with defaults: used by the harness before `deploy`,
// and by an adapter that is deployed directly (tests, tools).

import { InputError } from '../../history/input-error.js';
import type { SystemAdapter } from './system.js';

/** Every option of the adapter: the given value (checked) or its default; an unknown key is an InputError. */
export function resolveOptions(adapter: Pick<SystemAdapter, 'name' | 'options'>, given: Readonly<Record<string, string>>): Record<string, string> {
  const keys = Object.keys(adapter.options);
  for (const [key, value] of Object.entries(given)) {
    const spec = Object.hasOwn(adapter.options, key) ? adapter.options[key] : undefined;
    if (!spec)
      throw new InputError(
        `unknown option ${JSON.stringify(key)} for system ${adapter.name} in --opt`,
        {},
        keys.length > 0 ? `its options: ${keys.join(', ')}` : 'it takes no options',
      );
    if (spec.choices && !spec.choices.includes(value)) throw new InputError(`--opt ${key}=${value}: not one of ${spec.choices.join(', ')}`);
    const wrong = spec.check?.(value) ?? null;
    if (wrong !== null) throw new InputError(`--opt ${key}=${value}: must be ${wrong}`);
  }
  return Object.fromEntries(keys.map((k) => [k, Object.hasOwn(given, k) ? given[k] : adapter.options[k].default]));
}
