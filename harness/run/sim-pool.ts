// --provider sim over many seeds on every core: each worker thread runs whole
// seeds (runSimTest) one after another, taking the next seed when it is done.
// A seed's run depends on its seed alone, so which thread ran it changes
// nothing in its history; only the order the lines come out in varies.

import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { InputError } from '../../history/input-error.js';
import { runSimTest } from './run-sim.js';
import type { TestConfig } from './run-test.js';

/** What a worker reports for one seed. */
export interface SeedReport {
  seed: number;
  dir: string;
  verdict: 'valid' | 'invalid' | 'unknown' | null;
  failure: string | null;
  virtualSeconds: number;
  wallSeconds: number;
}

/** Runs seeds first.seed .. first.seed + count - 1 on up to `threads` worker threads; `onReport` gets each as it ends. */
export function runSeedsInThreads(first: TestConfig, count: number, threads: number, onReport: (r: SeedReport) => void): Promise<void> {
  const n = Math.max(1, Math.min(threads, count));
  let next = 0;
  return new Promise((resolve, reject) => {
    let live = n;
    for (let i = 0; i < n; i++) {
      const worker = new Worker(new URL(import.meta.url), { workerData: { first } });
      const feed = (): void => {
        if (next < count) worker.postMessage(first.seed + next++);
        else void worker.terminate();
      };
      worker.on('message', (r: SeedReport | { inputError: string }) => {
        // A setting the simulation refuses (found when the first seed starts): the user's one line, not a crash.
        if ('inputError' in r) {
          reject(new InputError(r.inputError));
          void worker.terminate();
          return;
        }
        onReport(r);
        feed();
      });
      worker.on('error', reject);
      worker.on('exit', () => {
        if (--live === 0) resolve();
      });
      feed();
    }
  });
}

/** Threads to use: every core, unless told fewer. */
export const defaultThreads = (): number => availableParallelism();

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const { first } = workerData as { first: TestConfig };
  port.on('message', (seed: number) => {
    void runSimTest({ ...first, seed }, { quiet: true }).then(
      (o) =>
        port.postMessage({
          seed,
          dir: o.paths.dir,
          verdict: o.results?.verdict ?? null,
          failure: o.failure,
          virtualSeconds: o.virtualSeconds,
          wallSeconds: o.wallSeconds,
        } satisfies SeedReport),
      (e: unknown) => {
        // An InputError's class does not cross the thread boundary: send its line. Anything else is a crash, as before.
        if (e instanceof InputError) port.postMessage({ inputError: e.toLine() });
        else throw e;
      },
    );
  });
}
