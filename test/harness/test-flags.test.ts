// `undertow test` flags: every mistake is one InputError (exit 254), and a
// good command line becomes the TestConfig written to test.json.

import { describe, expect, it } from 'vitest';
import { checkMachine, parseNemesis, testConfig } from '../../harness/run/test-flags.js';
import { InputError } from '../../history/input-error.js';

const defaults = {
  system: 'reference',
  opt: [] as string[],
  workload: 'register',
  nemesis: 'none',
  partitions: 'halves,one,primary,primary-alone,ring,bridge',
  targets: 'random,primary,cm-leader',
  provider: 'local',
  nodes: 3,
  concurrency: 10,
  rate: 100,
  'time-limit': 30,
  'nemesis-interval': 5,
  'nemesis-overlap': false,
  quiet: 5,
  'op-timeout': 3,
  store: 'store',
  bug: [] as string[],
  'test-count': 1,
  keys: 4,
  'ops-per-key': 100,
  reads: 1 / 3,
};

describe('undertow test flags', () => {
  it('build a test value with the seed, faults and bugs', () => {
    const t = testConfig({ ...defaults, nemesis: 'kill,pause,kill', bug: ['read-without-lease'], seed: 42, 'cm-nodes': 3, 'lease-ms': 800, 'grace-ms': 1200 });
    expect(t).toMatchObject({
      system: 'reference',
      workload: 'register',
      nemesis: ['kill', 'pause'],
      seed: 42,
      bugs: ['read-without-lease'],
      opTimeoutMs: 3000,
      systemOptions: { 'cm-nodes': '3', 'lease-ms': '800', 'grace-ms': '1200' },
    });
    expect(t.name).toBe('register-kill-pause-bug-read-without-lease');
    expect(t.corruptions).toEqual(['bitflip', 'truncate']);
    expect(testConfig({ ...defaults, nemesis: 'corrupt', corruptions: 'bitflip' }).corruptions).toEqual(['bitflip']);
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
    [{ 'cm-nodes': 0 }, /--cm-nodes must be an integer >= 1, got 0/],
    [{ replication: 4 }, /replication 4 needs at least that many data nodes/],
    [{ system: 'zookeeper' }, /unknown system "zookeeper" in --system.*reference/],
    [{ opt: ['nonsense'] }, /--opt "nonsense" is not KEY=VALUE/],
    [{ opt: ['colour=blue'] }, /unknown option "colour" for system reference in --opt.*cm-nodes/],
    [{ opt: ['groups=0'] }, /--opt groups=0: must be an integer >= 1/],
    [{ opt: ['groups=2', 'groups=4'] }, /--opt groups is given twice/],
    [{ opt: ['groups=2'], groups: 4 }, /--groups and --opt groups= are the same setting/],
    [{ quiet: -2 }, /--quiet must be >= 0/],
    [{ system: 'etcd', nemesis: 'kill,power' }, /system etcd cannot take --nemesis power: etcd is a Go program.*LD_PRELOAD/],
    [{ nemesis: 'kill,corrupt', targets: 'random,all' }, /--targets all is for kill, pause and power; corrupt cannot aim at every node at once/],
    [{ nemesis: 'corrupt', corruptions: 'bitflip,shred' }, /unknown corruption "shred" in --corruptions.*bitflip, truncate/],
  ])('refuse %j in one line', (bad, message) => {
    let error: unknown;
    try {
      testConfig({ ...defaults, ...bad } as Parameters<typeof testConfig>[0]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    const line = (error as InputError).toLine();
    expect(line).toMatch(message);
    expect(line).not.toContain('\n');
  });

  it('take system options as --opt KEY=VALUE, and cm-leader as leader', () => {
    const t = testConfig({ ...defaults, opt: ['groups=5', 'config-lease-ms=0'], targets: 'cm-leader,primary' });
    expect(t.systemOptions).toMatchObject({ groups: '5', 'config-lease-ms': '0' });
    expect(t.targets).toEqual(['leader', 'primary']);
  });

  it('parse the nemesis list', () => {
    expect(parseNemesis('none')).toEqual([]);
    expect(parseNemesis('partition, clock')).toEqual(['partition', 'clock']);
  });

  it('refuse --nemesis power in one line when no C compiler runs (the shim is built on first use)', async () => {
    const saved = { PATH: process.env.PATH, CC: process.env.CC };
    process.env.PATH = '/nonexistent';
    delete process.env.CC;
    let error: unknown;
    try {
      await checkMachine(testConfig({ ...defaults, nemesis: 'power' }));
    } catch (e) {
      error = e;
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.CC !== undefined) process.env.CC = saved.CC;
    }
    expect(error).toBeInstanceOf(InputError);
    const line = (error as InputError).toLine();
    expect(line).toMatch(/--nemesis power needs a C compiler.*apt-get install -y gcc libc6-dev/);
    expect(line).not.toContain('\n');
  });
});
