// `undertow check` as a user runs it: the built CLI in a real process.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { historiesDir } from '../paths.js';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'harness', 'cli.js');

function undertow(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'undertow-')), name);
  writeFileSync(path, text);
  return path;
}

/** A user mistake: exit 254 and exactly one line on stderr, no stack trace. */
function expectOneLine(r: ReturnType<typeof undertow>, ...mentions: string[]) {
  expect(r.code).toBe(254);
  const lines = r.err.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(r.err).not.toMatch(/\n\s+at /);
  for (const m of mentions) expect(r.err).toContain(m);
}

describe('undertow check', () => {
  it('exits 0 on a linearizable history', () => {
    const r = undertow('check', '--model', 'cas-register', join(historiesDir, 'porcupine-etcd', 'etcd_002.edn'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^valid: /);
  });

  it('exits 1 and explains a history that is not', () => {
    const r = undertow('check', '--model', 'cas-register', 'examples/stale-read.jsonl');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^invalid: /);
    expect(r.out).toContain('Longest linearizable prefix');
    expect(r.out).toContain('[x] read -> 1');
  });

  it('exits 2 when the budget runs out', () => {
    const r = undertow('check', '--model', 'cas-register', '--budget', '0.000001', join(historiesDir, 'porcupine-etcd', 'etcd_002.edn'));
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^unknown: /);
  });

  it('exits 2 and names --memory when the memory budget runs out', () => {
    const r = undertow('check', '--model', 'cas-register', '--memory', '0.0625', join(historiesDir, 'porcupine-etcd', 'etcd_002.edn'));
    expect(r.code).toBe(2);
    expect(r.out).toContain('MiB memory budget');
    expect(r.out).toContain('--memory');
  });

  it('prints the whole result with --json', () => {
    const r = undertow('check', '--model', 'kv', '--json', join(historiesDir, 'porcupine-kv', 'c10-bad.edn'));
    expect(r.code).toBe(1);
    const result = JSON.parse(r.out);
    expect(result.verdict).toBe('invalid');
    expect(result.valid).toBe(false);
    expect(result.partitions).toBe(10);
    expect(result.failures[0].stuck.f).toMatch(/get|put|append/);
  });

  it('refuses an unknown model in one line', () => {
    expectOneLine(undertow('check', '--model', 'regster', 'examples/stale-read.jsonl'), 'unknown model "regster"', 'cas-register');
  });

  it('refuses a missing file in one line', () => {
    expectOneLine(undertow('check', '--model', 'register', 'no/such/file.jsonl'), 'no/such/file.jsonl');
  });

  it('refuses bad flags in one line', () => {
    expectOneLine(undertow('check', '--modle', 'register', 'examples/stale-read.jsonl'));
    expectOneLine(undertow('check', '--model', 'register', '--budget', '-3', 'examples/stale-read.jsonl'), '--budget');
    expectOneLine(undertow('frobnicate'));
  });

  it('points at the line of a malformed event', () => {
    const file = tempFile('bad.jsonl', '{"index":0,"type":"invoke","f":"read","value":null,"process":0,"time":0}\n{"index":1,"type":"ok",\n');
    expectOneLine(undertow('check', '--model', 'register', file), `${file}:2`);
  });

  it('points at the line of an unpaired completion', () => {
    const file = tempFile('unpaired.jsonl', '{"index":0,"type":"ok","f":"read","value":1,"process":4,"time":0}\n');
    expectOneLine(undertow('check', '--model', 'register', file), `${file}:1`, 'no open invocation');
  });

  it('points at the line of an f the model does not know', () => {
    const file = tempFile(
      'f.edn',
      '{:type :invoke, :f :read, :value nil, :process 0, :time 0, :index 0}\n{:type :ok, :f :read, :value nil, :process 0, :time 1, :index 1}\n{:type :invoke, :f :incr, :value 1, :process 0, :time 2, :index 2}\n{:type :ok, :f :incr, :value 1, :process 0, :time 3, :index 3}\n',
    );
    expectOneLine(undertow('check', '--model', 'cas-register', file), `${file}:3`, 'incr');
  });
});

describe('undertow check --independent', () => {
  it('splits Jepsen [key value] tuples into independent keys', () => {
    // Key 1 is fine; key 2 reads a value never written.
    const file = tempFile(
      'indep.edn',
      [
        '{:type :invoke, :f :write, :value [1 3], :process 0, :time 0, :index 0}',
        '{:type :ok, :f :write, :value [1 3], :process 0, :time 1, :index 1}',
        '{:type :invoke, :f :read, :value [1 nil], :process 1, :time 2, :index 2}',
        '{:type :ok, :f :read, :value [1 3], :process 1, :time 3, :index 3}',
        '{:type :invoke, :f :read, :value [2 nil], :process 1, :time 4, :index 4}',
        '{:type :ok, :f :read, :value [2 3], :process 1, :time 5, :index 5}',
      ].join('\n'),
    );
    const r = undertow('check', '--model', 'register', '--independent', '--json', file);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.out);
    expect(result.partitions).toBe(2);
    expect(result.failures[0].key).toBe(2);
  });
});

describe('undertow check for Jepsen users (Knossos models and semantics, the store)', () => {
  const knossos = join(root, 'test', 'fixtures', 'knossos');
  const nilReads = join(knossos, 'cas-register', 'good', 'memstress3-1.edn');

  it("--init and --semantics knossos give Knossos's verdict on its own history", () => {
    const ours = undertow('check', '--model', 'cas-register', '--init', '0', nilReads);
    expect(ours.code).toBe(1);
    expect(ours.out).toContain('read -> nil');
    const theirs = undertow('check', '--model', 'cas-register', '--init', '0', '--semantics', 'knossos', nilReads);
    expect(theirs.code).toBe(0);
    expect(theirs.out).toMatch(/^valid: .*model cas-register from 0, knossos semantics/);
  });

  it('checks a mutex and a multi-register history', () => {
    expect(undertow('check', '--model', 'mutex', join(knossos, 'mutex', 'bad', 'etcd.edn')).code).toBe(1);
    expect(undertow('check', '--model', 'multi-register', '--init', '{"x":0,"y":0}', join(knossos, 'multi-register', 'good', 'multi-register.edn')).code).toBe(
      0,
    );
  });

  it('reads a Jepsen store run folder, and TEST/latest, and detects independent tuples', () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-store-'));
    const run = join(store, 'register', '20260102T030405.000Z');
    mkdirSync(run, { recursive: true });
    writeFileSync(
      join(run, 'history.edn'),
      [
        '{:type :invoke, :f :write, :value [1 3], :process 0, :time 0, :index 0}',
        '{:type :info, :f :start, :value nil, :process :nemesis, :time 1, :index 1}',
        '{:type :ok, :f :write, :value [1 3], :process 0, :time 2, :index 2}',
        '{:type :invoke, :f :read, :value [2 nil], :process 1, :time 3, :index 3}',
        '{:type :ok, :f :read, :value [2 3], :process 1, :time 4, :index 4}',
      ].join('\n'),
    );
    symlinkSync(run, join(store, 'register', 'latest'));
    for (const dir of [run, join(store, 'register')]) {
      const r = undertow('check', '--model', 'register', '--json', dir);
      expect(r.code).toBe(1);
      const result = JSON.parse(r.out);
      expect(result['valid?']).toBe(false);
      expect(result.independent).toBe(true);
      expect(result.file).toContain('history.edn');
      expect(result.results['1']['valid?']).toBe(true);
      expect(result.results['2']['valid?']).toBe(false);
      expect(result['failed-keys']).toEqual([2]);
      expect(result.counterexample.stuck.description).toBe('[2] read -> 3');
    }
    // --no-independent keeps the tuples as values.
    expect(undertow('check', '--model', 'register', '--no-independent', run).out).toMatch(/^invalid: .*1 part/);
    expectOneLine(undertow('check', '--model', 'register', store), 'no history.edn', 'STORE/TEST/TIMESTAMP');
  });

  it('--json says "unknown" and why, as Knossos does', () => {
    const r = undertow('check', '--model', 'cas-register', '--budget', '0.000001', '--json', join(historiesDir, 'porcupine-etcd', 'etcd_002.edn'));
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toMatchObject({ 'valid?': 'unknown', cause: 'timeout', model: 'cas-register' });
  });

  it('refuses a bad --init or --semantics in one line', () => {
    expectOneLine(undertow('check', '--model', 'cas-register', '--init', '{x:0}', 'examples/stale-read.jsonl'), '--init must be a JSON value');
    expectOneLine(undertow('check', '--model', 'mutex', '--init', '3', 'examples/stale-read.jsonl'), 'initial value of model mutex');
    expectOneLine(undertow('check', '--model', 'register', '--semantics', 'porcupine', 'examples/stale-read.jsonl'), 'semantics');
  });

  it('under --independent, names a vector as a vector', () => {
    const file = tempFile('txn.edn', '{:type :invoke, :f :txn, :value [[:read :x nil]], :process 0, :time 0, :index 0}\n');
    expectOneLine(undertow('check', '--model', 'multi-register', '--independent', file), 'got a vector');
  });
});

describe('undertow convert', () => {
  it('exports our history to Jepsen EDN and back with the same verdict', () => {
    const edn = undertow('convert', '--to', 'edn', 'examples/stale-read.jsonl');
    expect(edn.code).toBe(0);
    expect(edn.out.split('\n')[0]).toMatch(/^\{:index 0, .*:type :invoke/);
    const ednFile = tempFile('h.edn', edn.out);
    const back = undertow('convert', '--to', 'jsonl', ednFile);
    expect(back.code).toBe(0);
    expect(
      back.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(
      readFileSync(join(root, 'examples', 'stale-read.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    );
    expect(undertow('check', '--model', 'cas-register', ednFile).code).toBe(1);
  });

  it('refuses an unknown format in one line', () => {
    expectOneLine(undertow('convert', '--to', 'yaml', 'examples/stale-read.jsonl'), 'yaml');
  });
});
