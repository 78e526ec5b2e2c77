import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HISTORY_FILE, NEMESIS_FILE, Recorder } from '../../harness/core/recorder.js';
import { readHistoryFile, readHistoryFileSync } from '../../history/read.js';
import { transpileTree } from './transpile.js';

const root = join(import.meta.dirname, '..', '..');
const tempDir = () => mkdtempSync(join(tmpdir(), 'undertow-recorder-'));

/** A clock that moves only when told to. */
function fakeClock(startNs = 5_000n) {
  let t = startNs;
  return { clock: () => t, advance: (ns: bigint) => void (t += ns), set: (ns: bigint) => void (t = ns) };
}

describe('Recorder', () => {
  it('numbers events and times them from its creation, never backwards', () => {
    const c = fakeClock();
    const r = new Recorder({ clock: c.clock });
    const a = r.record({ type: 'invoke', f: 'read', value: null, process: 0, key: 'k' });
    c.advance(1500n);
    const b = r.record({ type: 'ok', f: 'read', value: 3, process: 0, key: 'k' });
    c.set(0n); // a clock that jumps back must not make time run backwards
    const d = r.record({ type: 'invoke', f: 'write', value: 1, process: 1 });
    expect([a, b, d].map((o) => [o.index, o.time])).toEqual([
      [0, 0],
      [1, 1500],
      [2, 1500],
    ]);
    expect(b).toEqual({ index: 1, type: 'ok', f: 'read', value: 3, process: 0, time: 1500, key: 'k' });
    expect(r.history).toHaveLength(3);
  });

  it('writes every event to history.jsonl as it happens, nemesis events also to nemesis.jsonl', async () => {
    const dir = tempDir();
    const c = fakeClock();
    const r = new Recorder({ dir, clock: c.clock });
    r.record({ type: 'invoke', f: 'write', value: 'x\u2028y', process: 0 });
    // On disk before the next event, without close.
    expect(readFileSync(join(dir, HISTORY_FILE), 'utf8').split('\n')).toHaveLength(2);
    c.advance(10n);
    r.record({ type: 'invoke', f: 'kill', value: ['n1'], process: 'nemesis' });
    r.record({ type: 'info', f: 'write', value: 'x\u2028y', process: 0, error: 'timed-out' });
    r.record({ type: 'info', f: 'kill', value: ['n1'], process: 'nemesis' });
    r.close();
    r.close();
    expect((await readHistoryFile(join(dir, HISTORY_FILE))).ops).toEqual(r.history);
    expect((await readHistoryFile(join(dir, NEMESIS_FILE))).ops).toEqual(r.nemesisHistory);
    expect(r.nemesisHistory.map((o) => o.index)).toEqual([1, 3]);
    expect(() => r.record({ type: 'invoke', f: 'read', value: null, process: 0 })).toThrow(/closed/);
  });

  it('never overwrites an existing history', () => {
    const dir = tempDir();
    writeFileSync(join(dir, HISTORY_FILE), '{"index":0}\n');
    expect(() => new Recorder({ dir })).toThrow(/EEXIST/);
    expect(readFileSync(join(dir, HISTORY_FILE), 'utf8')).toBe('{"index":0}\n');
  });

  // The harness dying right after recording must not lose what it recorded.
  describe('a crash of the harness keeps every event recorded before it', () => {
    const build = tempDir();
    const recorderJs = transpileTree(join(root, 'harness', 'core', 'recorder.ts'), build);
    const child = join(build, 'child.mjs');
    writeFileSync(
      child,
      `import { Recorder } from ${JSON.stringify(pathToFileURL(recorderJs).href)};
const [dir, n, how] = process.argv.slice(2);
const r = new Recorder({ dir });
for (let i = 0; i < Number(n); i++) {
  r.record({ type: 'invoke', f: 'write', value: i, process: i % 7 });
  if (i % 10 === 9) r.record({ type: 'invoke', f: 'pause', value: null, process: 'nemesis' });
}
if (how === 'throw') throw new Error('boom');
if (how === 'exit') process.exit(1);
if (how === 'kill') process.kill(process.pid, 'SIGKILL');
`,
    );

    for (const how of ['throw', 'exit', 'kill'] as const) {
      it(`on ${how}`, () => {
        const dir = join(tempDir(), 'run');
        const n = 2000;
        const res = spawnSync(process.execPath, [child, dir, String(n), how], { encoding: 'utf8' });
        if (how === 'kill') expect(res.signal).toBe('SIGKILL');
        else expect(res.status).toBe(1);
        const { ops } = readHistoryFileSync(join(dir, HISTORY_FILE));
        expect(ops).toHaveLength(n + n / 10);
        expect(ops.map((o) => o.index)).toEqual(ops.map((_, i) => i));
        expect(ops.filter((o) => o.f === 'write').map((o) => o.value)).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(readHistoryFileSync(join(dir, NEMESIS_FILE)).ops).toEqual(ops.filter((o) => o.process === 'nemesis'));
      });
    }
  });
});
