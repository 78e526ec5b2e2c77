// Every reference history (Porcupine's test data) gets the verdict Porcupine's
// own tests assert for it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLinearizable, renderText, modelNamed } from '../../../checkers/linearizability/index.js';
import { pairOps } from '../../../history/pair.js';
import { readHistoryFile } from '../../../history/read.js';
import { historiesDir } from '../../paths.js';

interface Entry {
  file: string;
  model: string;
  expected: 'linearizable' | 'not-linearizable';
}

const manifest = JSON.parse(readFileSync(join(historiesDir, 'manifest.json'), 'utf8')) as Entry[];

describe('reference histories', () => {
  it('the manifest lists all 108 histories', () => {
    expect(manifest.length).toBe(108);
  });

  for (const entry of manifest) {
    it(`${entry.file} is ${entry.expected}`, async () => {
      const file = join(historiesDir, entry.file);
      const { ops, lines } = await readHistoryFile(file);
      const result = checkLinearizable(modelNamed(entry.model), pairOps(ops, { file, lines }));
      expect(result.verdict).toBe(entry.expected === 'linearizable' ? 'valid' : 'invalid');
      if (result.verdict === 'invalid') {
        // An invalid verdict always comes with a counterexample naming the stuck op.
        const ce = result.failures[0];
        expect(ce.stuck).not.toBeNull();
        expect(ce.attempts.length).toBeGreaterThan(0);
        expect(renderText(ce)).toContain('Not linearizable');
      }
    });
  }
});
