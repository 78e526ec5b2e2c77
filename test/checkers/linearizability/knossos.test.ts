// Knossos's own histories (test/fixtures/knossos, from jepsen-io/knossos data/)
// get the verdicts Knossos's tests state: every file under good/ is valid and
// every file under bad/ invalid, with the models its tests use
// (core_test.clj's test-examples: (cas-register 0), (multi-register {:x 0 :y 0});
// report_test.clj: (mutex)). With --semantics knossos all agree; with ours,
// the good histories that hold an ok read of nil are invalid, and only those.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLinearizable, modelNamed, renderText, type Semantics } from '../../../checkers/linearizability/index.js';
import { pairOps } from '../../../history/pair.js';
import { readHistoryFile } from '../../../history/read.js';
import type { Value } from '../../../history/types.js';

const dir = join(import.meta.dirname, '..', '..', 'fixtures', 'knossos');
const inits: Record<string, Value | undefined> = { 'cas-register': 0, 'multi-register': { x: 0, y: 0 }, mutex: undefined };

const files = Object.keys(inits).flatMap((model) =>
  ['good', 'bad'].flatMap((verdict) => {
    const sub = join(dir, model, verdict);
    let names: string[] = [];
    try {
      names = readdirSync(sub).filter((n) => n.endsWith('.edn'));
    } catch {
      // This model has no histories of this verdict.
    }
    return names.sort().map((name) => ({ model, file: join(sub, name), name: `${model}/${verdict}/${name}`, valid: verdict === 'good' }));
  }),
);

async function check(entry: (typeof files)[number], semantics: Semantics) {
  const { ops, lines } = await readHistoryFile(entry.file);
  const model = modelNamed(entry.model, { init: inits[entry.model], semantics });
  return checkLinearizable(model, pairOps(ops, { file: entry.file, lines }));
}

describe("Knossos's histories", () => {
  it('are all here: 113 good and 7 bad cas-register, 1 good multi-register, 1 bad mutex', () => {
    expect(files.length).toBe(122);
    expect(files.filter((f) => f.model === 'cas-register' && f.valid).length).toBe(113);
  });

  for (const entry of files) {
    it(`${entry.name} is ${entry.valid ? 'valid' : 'invalid'} under Knossos's semantics`, async () => {
      const r = await check(entry, 'knossos');
      expect(r.verdict).toBe(entry.valid ? 'valid' : 'invalid');
      if (r.verdict === 'invalid') expect(renderText(r.failures[0])).toContain('Not linearizable');
    });
  }

  it('under ours, the bad ones are invalid and the good ones differ only where an ok read returned nil', async () => {
    let agree = 0;
    for (const entry of files) {
      const r = await check(entry, 'undertow');
      if (r.verdict === (entry.valid ? 'valid' : 'invalid')) {
        agree++;
        continue;
      }
      expect(entry.valid).toBe(true);
      const { ops } = await readHistoryFile(entry.file);
      const okNilRead = ops.some(
        (op) => op.type === 'ok' && (op.f === 'read' ? op.value === null : op.f === 'txn' && (op.value as Value[][]).some((m) => m[2] === null)),
      );
      expect(okNilRead).toBe(true);
    }
    expect(agree).toBe(33);
  }, 60_000);
});
