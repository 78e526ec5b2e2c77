// `undertow bench` flags: lists of points, the shared system flags, and every
// mistake as one InputError line (exit 254).

import { describe, expect, it } from 'vitest';
import { benchConfig, BENCH_WORKLOADS, type BenchArgs } from '../../harness/bench/config.js';
import { InputError } from '../../history/input-error.js';

const defaults: BenchArgs = {
  system: 'reference',
  opt: [],
  provider: 'local',
  nodes: 3,
  bug: [],
  store: 'store',
  workload: 'register',
  concurrency: '1,4,16,64',
  rate: '',
  'open-clients': 32,
  duration: 10,
  warmup: 2,
  repeat: 3,
  keys: 1000,
  reads: 0.5,
  'op-timeout': 3,
  nemesis: 'none',
  partitions: 'halves,one',
  targets: 'random,primary,leader',
  'nemesis-interval': 5,
  'nemesis-overlap': false,
};

describe('undertow bench flags', () => {
  it('build the bench as run: points, system options (shorthands folded in), seed', () => {
    const c = benchConfig({ ...defaults, concurrency: '1, 4,4,32', rate: '500,1000', seed: 9, groups: 5, opt: ['fsync=false'] });
    expect(c).toMatchObject({
      name: 'bench-register',
      concurrency: [1, 4, 32],
      rates: [500, 1000],
      openClients: 32,
      seed: 9,
      opTimeoutMs: 3000,
      systemOptions: { groups: '5', fsync: 'false' },
    });
    expect(benchConfig({ ...defaults, concurrency: 'none', rate: '100' }).concurrency).toEqual([]);
    expect(benchConfig({ ...defaults, system: 'etcd' }).name).toBe('bench-etcd-register');
    expect(Number.isSafeInteger(benchConfig(defaults).seed)).toBe(true);
    expect(BENCH_WORKLOADS).toEqual(['register', 'set', 'append']);
    expect(benchConfig(defaults).faults.nemesis).toEqual([]);
  });

  it("take undertow test's fault flags: kinds, targets, interval; the name says the faults", () => {
    const c = benchConfig({ ...defaults, nemesis: 'kill,pause', targets: 'cm-leader,primary', 'nemesis-interval': 3, duration: 20 });
    expect(c.faults).toMatchObject({ nemesis: ['kill', 'pause'], targets: ['leader', 'primary'], nemesisInterval: 3, nemesisOverlap: false });
    expect(c.name).toBe('bench-register-kill-pause');
  });

  it.each([
    [{ concurrency: '0' }, /--concurrency must be an integer >= 1, got 0/],
    [{ concurrency: '2,x' }, /--concurrency must be an integer >= 1, got NaN/],
    [{ rate: '-5' }, /--rate must be a positive number/],
    [{ concurrency: '', rate: 'none' }, /nothing to measure/],
    [{ workload: 'bank' }, /workload "bank" cannot be benchmarked \(use one of: register, set, append\)/],
    [{ nemesis: 'kill', duration: 10 }, /--nemesis needs --duration above twice --nemesis-interval .* got --duration 10 \(e\.g\. --duration 20/],
    [{ nemesis: 'explode', duration: 20 }, /unknown fault "explode" in --nemesis/],
    [{ nemesis: 'kill', 'nemesis-interval': 0, duration: 20 }, /--nemesis-interval must be a positive number/],
    [{ nemesis: 'corrupt', targets: 'all', duration: 20 }, /--targets all is for kill, pause and power/],
    [{ system: 'etcd', nemesis: 'corrupt', duration: 20 }, /system etcd cannot take --nemesis corrupt/],
    [{ duration: 0 }, /--duration must be a positive number/],
    [{ warmup: -1 }, /--warmup must be >= 0/],
    [{ repeat: 1.5 }, /--repeat must be an integer/],
    [{ reads: 2 }, /--reads must be a fraction/],
    [{ provider: 'cloud' }, /unknown provider "cloud"/],
    [{ system: 'etcd', groups: 3 }, /--groups is the reference system's/],
    [{ bug: ['nope'] }, /unknown bug "nope"/],
  ] as [Partial<BenchArgs>, RegExp][])('%o is one line: %s', (bad, message) => {
    let error: unknown;
    try {
      benchConfig({ ...defaults, ...bad });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).toLine()).toMatch(message);
  });
});
