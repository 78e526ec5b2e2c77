// `undertow test` flags: every mistake is one InputError (exit 254), and a
// good command line becomes the TestConfig written to test.json.

import { describe, expect, it } from 'vitest';
import { parseNemesis, testConfig } from '../../harness/commands/test.js';
import { InputError } from '../../history/input-error.js';

const defaults = {
  workload: 'register', nemesis: 'none', partitions: 'halves,one,primary,primary-alone,ring,bridge', targets: 'random,primary,cm-leader', provider: 'local', nodes: 3, 'cm-nodes': 3, groups: 3, replication: 3, concurrency: 10, rate: 100,
  'time-limit': 30, 'nemesis-interval': 5, 'nemesis-overlap': false, quiet: 5, 'op-timeout': 3, store: 'store', bug: [] as string[], 'test-count': 1, keys: 4, 'ops-per-key': 100, reads: 1 / 3,
};

describe('undertow test flags', () => {
  it('build a test value with the seed, faults and bugs', () => {
    const t = testConfig({ ...defaults, nemesis: 'kill,pause,kill', bug: ['read-without-lease'], seed: 42, 'lease-ms': 800, 'grace-ms': 1200 });
    expect(t).toMatchObject({ workload: 'register', nemesis: ['kill', 'pause'], seed: 42, bugs: ['read-without-lease'], opTimeoutMs: 3000, dataArgs: ['--lease-ms', '800', '--grace-ms', '1200'] });
    expect(t.name).toBe('register-kill-pause-bug-read-without-lease');
    expect(Number.isSafeInteger(testConfig(defaults).seed)).toBe(true);
  });

  it.each([
    [{ workload: 'queue' }, /unknown workload "queue".*register, set, append, bank/],
    [{ nemesis: 'kill,flood' }, /unknown fault "flood" in --nemesis.*kill, pause, clock, partition/],
    [{ provider: 'k8s' }, /unknown provider "k8s"/],
    [{ targets: 'primary,everyone' }, /unknown target "everyone" in --targets/],
    [{ bug: ['no-such-bug'] }, /unknown bug "no-such-bug".*read-without-lease/],
    [{ concurrency: 0 }, /--concurrency must be an integer >= 1, got 0/],
    [{ rate: -1 }, /--rate must be a positive number, got -1/],
    [{ 'time-limit': Number.NaN }, /--time-limit must be a positive number/],
    [{ replication: 4 }, /--replication 4 needs at least that many data nodes/],
    [{ quiet: -2 }, /--quiet must be >= 0/],
  ])('refuse %j in one line', (bad, message) => {
    let error: unknown;
    try {
      testConfig({ ...defaults, ...bad } as typeof defaults);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    const line = (error as InputError).toLine();
    expect(line).toMatch(message);
    expect(line).not.toContain('\n');
  });

  it('parse the nemesis list', () => {
    expect(parseNemesis('none')).toEqual([]);
    expect(parseNemesis('partition, clock')).toEqual(['partition', 'clock']);
  });
});
