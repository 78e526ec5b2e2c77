import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as history from '../../history/index.js';
import { parseEdn } from '../../history/edn.js';
import { InputError } from '../../history/input-error.js';
import { formatJsonl } from '../../history/jsonl.js';
import { pairOps } from '../../history/pair.js';
import { readHistoryFile, readHistoryFileSync, readOperations, readOperationsSync } from '../../history/read.js';
import { expectInputError } from './gen.js';

const HISTORIES = '/work/shared/histories';

interface ManifestEntry {
  file: string;
  ops: number;
  ok: number;
  fail: number;
  info: number;
  pending: number;
  processes: number;
  keys?: number;
}
const manifest = JSON.parse(readFileSync(join(HISTORIES, 'manifest.json'), 'utf8')) as ManifestEntry[];

describe('the reference histories', () => {
  it('the manifest lists all 108', () => {
    expect(manifest).toHaveLength(108);
  });

  it.each(manifest.map((m) => [m.file, m] as const))('%s parses, pairs and matches the manifest', (file, m) => {
    const path = join(HISTORIES, file);
    const { ops, lines, format } = readHistoryFileSync(path);
    expect(format).toBe('edn');
    expect(lines).toEqual(ops.map((_, i) => i + 1));
    const operations = pairOps(ops, { file: path, lines });
    const completions = (type: string) => ops.filter((o) => o.type === type).length;
    expect(operations).toHaveLength(m.ops);
    expect(ops.filter((o) => o.type === 'invoke')).toHaveLength(m.ops);
    expect([completions('ok'), completions('fail'), completions('info')]).toEqual([m.ok, m.fail, m.info]);
    expect(m.ops - completions('ok') - completions('fail') - completions('info')).toBe(m.pending);
    expect(new Set(ops.map((o) => o.process)).size).toBe(m.processes);
    if (m.keys !== undefined) expect(new Set(ops.map((o) => o.key)).size).toBe(m.keys);
    // Both writers read back to the same history.
    expect(history.parseJsonl(formatJsonl(ops)).ops).toEqual(ops);
    expect(parseEdn(history.formatEdn(ops)).ops).toEqual(ops);
  });

  it('a file wrapped in one vector reads the same, with the same lines', () => {
    const text = readFileSync(join(HISTORIES, 'porcupine-kv/c10-bad.edn'), 'utf8');
    expect(parseEdn(`[${text}]`)).toEqual(parseEdn(text));
  });
});

describe('readHistoryFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'undertow-history-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const jsonl = '{"index":0,"time":0,"type":"invoke","process":0,"f":"read","value":null}\n{"index":1,"time":1,"type":"ok","process":0,"f":"read","value":2}\n';
  const edn = '{:index 0, :time 0, :type :invoke, :process 0, :f :read, :value nil}\n{:index 1, :time 1, :type :ok, :process 0, :f :read, :value 2}\n';

  it('chooses the format by extension', async () => {
    expect((await readHistoryFile(write('a.jsonl', jsonl))).format).toBe('jsonl');
    expect((await readHistoryFile(write('a.json', jsonl))).format).toBe('jsonl');
    expect((await readHistoryFile(write('a.EDN', edn))).format).toBe('edn');
    expect((await readHistoryFile(write('a.edn', edn))).ops).toEqual((await readHistoryFile(write('b.jsonl', jsonl))).ops);
  });

  it('sniffs the format of other files', () => {
    expect(readHistoryFileSync(write('j.log', `\n  ${jsonl}`)).format).toBe('jsonl');
    expect(readHistoryFileSync(write('e.log', edn)).format).toBe('edn');
    expect(readHistoryFileSync(write('v.txt', `[${edn}]`)).format).toBe('edn');
    expect(readHistoryFileSync(write('c.txt', `; comment\n${edn}`)).format).toBe('edn');
    expect(readHistoryFileSync(write('forced.txt', edn), { format: 'edn' }).format).toBe('edn');
  });

  it('a missing file', async () => {
    const missing = join(dir, 'nope.jsonl');
    await expect(readHistoryFile(missing)).rejects.toThrow(InputError);
    const e = expectInputError(() => readHistoryFileSync(missing), undefined, /cannot read .*nope\.jsonl: ENOENT.*\(check the path\)/);
    expect(e.toLine().startsWith('cannot read')).toBe(true);
  });

  it('a directory', () => {
    expectInputError(() => readHistoryFileSync(dir), undefined, /cannot read .*EISDIR/);
  });

  it('an empty or blank file has no operations', async () => {
    await expect(readHistoryFile(write('empty.jsonl', ''))).rejects.toThrow(/no operations/);
    expectInputError(() => readHistoryFileSync(write('blank.edn', '\n  \n; only a comment\n')), undefined, /blank\.edn: no operations/);
    expectInputError(() => readHistoryFileSync(write('blank.log', '\n\n')), undefined, /no operations/);
  });

  it('an unrecognisable file', () => {
    expectInputError(() => readHistoryFileSync(write('x.log', 'hello\n')), undefined, /x\.log: cannot tell the format: the file starts with "h"/);
  });

  it('a JSON array instead of JSON lines', () => {
    expectInputError(() => readHistoryFileSync(write('arr.txt', `[\n  ${jsonl.split('\n')[0]}]`)), undefined, /looks like a JSON array/);
  });

  it('errors name the file and the line', () => {
    const path = write('bad.jsonl', `${jsonl}\n{"index":2,"time":2,"type":"invoke","process":"x","f":"read"}\n`);
    expectInputError(() => readHistoryFileSync(path), 4, /bad\.jsonl:4: "process" must be an integer/);
  });
});

describe('readOperations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'undertow-ops-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('pairs invocations with completions', async () => {
    const path = join(HISTORIES, 'porcupine-etcd/etcd_000.edn');
    const { operations, ops, format } = await readOperations(path);
    expect(format).toBe('edn');
    expect(operations).toHaveLength(85);
    expect(readOperationsSync(path).operations).toEqual(operations);
    expect(ops.length).toBeGreaterThan(operations.length);
  });

  it('pairing errors point at the source line, blank lines counted', async () => {
    const unpaired = join(dir, 'unpaired.edn');
    writeFileSync(unpaired, '{:index 0, :time 0, :type :invoke, :process 0, :f :read}\n\n\n{:index 1, :time 1, :type :ok, :process 1, :f :read}\n');
    await expect(readOperations(unpaired)).rejects.toThrow(InputError);
    expectInputError(() => readOperationsSync(unpaired), 4, /unpaired\.edn:4: ok completion of read by process 1 has no open invocation/);

    const decreasing = join(dir, 'decreasing.jsonl');
    writeFileSync(decreasing, '{"index":5,"time":0,"type":"invoke","process":0,"f":"read"}\n\n{"index":3,"time":1,"type":"ok","process":0,"f":"read"}\n');
    expectInputError(() => readOperationsSync(decreasing), 3, /decreasing\.jsonl:3: index 3 does not increase/);
  });
});

describe('the module index', () => {
  it('exports the public API', () => {
    for (const name of [
      'parseJsonl',
      'formatJsonl',
      'formatOp',
      'parseEdn',
      'formatEdn',
      'readHistoryFile',
      'readHistoryFileSync',
      'readOperations',
      'parseHistory',
      'pairOps',
      'InputError',
      'NEMESIS',
    ]) {
      expect(history).toHaveProperty(name);
    }
  });
});
