// The worker pool end to end against in-memory systems: a linearizable
// register (with latencies, timeouts and dropped connections) must give a
// linearizable history, a register with stale reads must not.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLinearizable, modelNamed } from '../../checkers/linearizability/index.js';
import { clients, clientsAndNemesis, limit, repeat } from '../../harness/core/generator/index.js';
import { registerOps, registerSystem, sleep } from './register-system.js';
import { HISTORY_FILE, NEMESIS_FILE, Recorder } from '../../harness/core/recorder.js';
import type { Client, ClientResult, Nemesis } from '../../harness/core/client.js';
import { runWorkers, TIMED_OUT } from '../../harness/run/workers.js';
import { pairOps } from '../../history/pair.js';
import { readHistoryFileSync } from '../../history/read.js';
import { NEMESIS } from '../../history/types.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'undertow-workers-'));

describe('runWorkers', () => {
  it('records a linearizable history of a linearizable register, through timeouts and dropped connections', async () => {
    const dir = tempDir();
    const recorder = new Recorder({ dir });
    const system = registerSystem(11, { stall: 0.03, dropBefore: 0.02, dropAfter: 0.02 });
    const summary = await runWorkers({
      generator: clients(limit(500, registerOps(4))),
      concurrency: 6,
      seed: 11,
      nodes: ['n1', 'n2', 'n3'],
      newClient: system.newClient,
      recorder,
      opTimeoutMs: 15,
    });
    recorder.close();
    const history = recorder.history;
    expect(summary.ok + summary.fail + summary.info).toBe(500);
    expect(summary.info).toBeGreaterThan(0);
    expect(summary.errors).toEqual([]);
    // Outcomes carry what happened: timeouts and the clients' own errors.
    const errors = new Set(history.filter((o) => o.type === 'info').map((o) => o.error));
    expect(errors).toEqual(new Set([TIMED_OUT, 'connection reset by peer', 'connection lost']));
    // Every info retired its process; its successors took over.
    expect(Math.max(...history.map((o) => o.process as number))).toBeGreaterThanOrEqual(6);
    expect(system.closed()).toBe(system.opened.length);
    expect(new Set(system.opened)).toEqual(new Set(['n1', 'n2', 'n3']));
    expect(readHistoryFileSync(join(dir, HISTORY_FILE)).ops).toEqual(history);
    const result = checkLinearizable(modelNamed('cas-register'), pairOps([...history]), { budgetMs: 20_000 });
    expect(result.verdict).toBe('valid');
  });

  it('records a history that is not linearizable when reads are stale', async () => {
    const recorder = new Recorder();
    const system = registerSystem(12, { stall: 0, dropBefore: 0, dropAfter: 0 }, 20);
    await runWorkers({
      generator: clients(limit(400, registerOps(2))),
      concurrency: 4,
      seed: 12,
      nodes: ['n1'],
      newClient: system.newClient,
      recorder,
      opTimeoutMs: 1000,
    });
    const result = checkLinearizable(modelNamed('cas-register'), pairOps([...recorder.history]), { budgetMs: 20_000 });
    expect(result.verdict).toBe('invalid');
  });

  it('retires a process after info: its client is closed and a fresh process takes over with a new client', async () => {
    const recorder = new Recorder();
    const log: string[] = [];
    let n = 0;
    const newClient = (process: number): Client => ({
      async open(node) {
        log.push(`open ${process} ${node}`);
      },
      async invoke(op) {
        if (n++ === 1) throw new Error('socket hang up');
        return { type: 'ok', value: op.value };
      },
      async close() {
        log.push(`close ${process}`);
      },
    });
    await runWorkers({
      generator: clients(limit(4, repeat({ f: 'write', value: 1 }))),
      concurrency: 1,
      seed: 1,
      nodes: ['a'],
      newClient,
      recorder,
      opTimeoutMs: 1000,
    });
    expect(recorder.history.map((o) => `${o.type} ${o.process}${o.error ? ` ${o.error}` : ''}`)).toEqual([
      'invoke 0',
      'ok 0',
      'invoke 0',
      'info 0 socket hang up',
      'invoke 1',
      'ok 1',
      'invoke 1',
      'ok 1',
    ]);
    expect(log).toEqual(['open 0 a', 'close 0', 'open 1 a', 'close 1']);
    const ops = pairOps([...recorder.history]);
    expect(ops.map((o) => o.type)).toEqual(['ok', 'info', 'ok', 'ok']);
  });

  it('times out an op that never answers: info timed-out, its signal aborted', async () => {
    const recorder = new Recorder();
    let aborted = false;
    const newClient = (): Client => ({
      async open() {},
      invoke: (_op, signal) =>
        new Promise<ClientResult>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
      async close() {},
    });
    await runWorkers({ generator: clients({ f: 'read' }), concurrency: 1, seed: 1, nodes: ['a'], newClient, recorder, opTimeoutMs: 20 });
    expect(recorder.history.map((o) => [o.type, o.error])).toEqual([
      ['invoke', undefined],
      ['info', TIMED_OUT],
    ]);
    expect(aborted).toBe(true);
  });

  it('fails an op whose client cannot open (it was never sent), and opens again for the next', async () => {
    const recorder = new Recorder();
    let opens = 0;
    const newClient = (): Client => ({
      async open() {
        if (opens++ === 0) throw new Error('ECONNREFUSED');
      },
      async invoke() {
        return { type: 'ok' };
      },
      async close() {},
    });
    await runWorkers({ generator: clients(limit(2, repeat({ f: 'read' }))), concurrency: 1, seed: 1, nodes: ['n9'], newClient, recorder, opTimeoutMs: 1000 });
    expect(recorder.history.filter((o) => o.type !== 'invoke').map((o) => [o.type, o.process, o.error])).toEqual([
      ['fail', 0, 'cannot open a client to n9: ECONNREFUSED'],
      ['ok', 0, undefined],
    ]);
  });

  it('records an answer that is not a result as info, naming what came back', async () => {
    const recorder = new Recorder();
    const newClient = (): Client => ({ async open() {}, invoke: async () => ({ type: 'maybe' }) as unknown as ClientResult, async close() {} });
    await runWorkers({ generator: clients({ f: 'read' }), concurrency: 1, seed: 1, nodes: ['a'], newClient, recorder, opTimeoutMs: 1000 });
    expect(recorder.history[1]).toMatchObject({ type: 'info', error: 'the client returned {"type":"maybe"}, not {type: ok|fail|info}' });
  });

  it('runs nemesis ops through the nemesis, records them in both files, and tears it down', async () => {
    const dir = tempDir();
    const recorder = new Recorder({ dir });
    const calls: string[] = [];
    const nemesis: Nemesis = {
      // Not async: a nemesis that throws instead of rejecting is caught as well.
      invoke(op) {
        calls.push(op.f);
        if (op.f === 'stop') throw new Error('iptables: permission denied');
        return Promise.resolve({ value: ['n2'] });
      },
      async teardown() {
        calls.push('teardown');
      },
    };
    const newClient = (): Client => ({ async open() {}, invoke: async () => ({ type: 'ok' }), async close() {} });
    const summary = await runWorkers({
      generator: clientsAndNemesis(limit(3, repeat({ f: 'read' })), [{ f: 'start' }, { f: 'stop' }]),
      concurrency: 2,
      seed: 3,
      nodes: ['n1', 'n2'],
      newClient,
      nemesis,
      recorder,
      opTimeoutMs: 1000,
    });
    recorder.close();
    expect(calls).toEqual(['start', 'stop', 'teardown']);
    expect(summary.nemesis).toBe(2);
    const nem = recorder.nemesisHistory;
    expect(nem.map((o) => [o.type, o.f, o.value, o.error])).toEqual([
      ['invoke', 'start', null, undefined],
      ['info', 'start', ['n2'], undefined],
      ['invoke', 'stop', null, undefined],
      ['info', 'stop', null, 'iptables: permission denied'],
    ]);
    expect(readHistoryFileSync(join(dir, NEMESIS_FILE)).ops).toEqual(nem);
    expect(nem.every((o) => o.process === NEMESIS)).toBe(true);
  });

  it('stops invoking when told to, and lets the ops under way complete', async () => {
    const recorder = new Recorder();
    const stop = new AbortController();
    const newClient = (): Client => ({ async open() {}, invoke: () => sleep(5).then(() => ({ type: 'ok' })), async close() {} });
    setTimeout(() => stop.abort(), 50);
    const summary = await runWorkers({
      generator: clients(repeat({ f: 'read' })),
      concurrency: 3,
      seed: 1,
      nodes: ['a'],
      newClient,
      recorder,
      opTimeoutMs: 1000,
      stop: stop.signal,
    });
    expect(summary.stopped).toBe(true);
    expect(summary.ok).toBeGreaterThan(3);
    expect(recorder.history.filter((o) => o.type === 'invoke')).toHaveLength(summary.ok);
    pairOps([...recorder.history]);
  });
});
