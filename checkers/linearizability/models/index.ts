import { InputError } from '../../../history/input-error.js';
import type { Model } from '../model.js';
import { kv } from './kv.js';
import { casRegister, register } from './register.js';
import { set } from './set.js';

export { kv, casRegister, register, set };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const models: ReadonlyMap<string, Model<any>> = new Map<string, Model<any>>(
  [register, casRegister, kv, set].map((m) => [m.name, m]),
);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function modelNamed(name: string): Model<any> {
  const model = models.get(name);
  if (!model) {
    throw new InputError(`unknown model ${JSON.stringify(name)}`, {}, `use one of: ${[...models.keys()].join(', ')}`);
  }
  return model;
}
