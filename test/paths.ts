import { join } from 'node:path';

/** ../shared/histories beside the project: Porcupine's reference histories. */
export const historiesDir = join(import.meta.dirname, '..', '..', 'shared', 'histories');
