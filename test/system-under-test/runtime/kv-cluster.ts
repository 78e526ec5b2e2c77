// Shared set-up of the data-plane end-to-end tests: a LocalKvCluster of real
// `undertow-node` processes run from source through vite-node, torn down after
// each test (also when it fails).

import * as path from 'node:path';
import { afterEach } from 'vitest';
import { LocalKvCluster, type LocalKvClusterOptions } from '../../../system-under-test/runtime/local-kv-cluster.js';
import { until } from '../../../system-under-test/runtime/local-cluster.js';
import type { GroupConfig } from '../../../system-under-test/cm/state.js';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const VITE_NODE = path.join(ROOT, 'node_modules/vite-node/vite-node.mjs');
export const BIN = path.join(ROOT, 'system-under-test/bin/undertow-node.ts');
export const PROGRAM = [process.execPath, VITE_NODE, BIN, '--'];

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

export async function kvCluster(o: Partial<LocalKvClusterOptions> = {}): Promise<LocalKvCluster> {
  const c = await LocalKvCluster.start({ program: PROGRAM, cwd: ROOT, groups: 3, replication: 3, ...o });
  cleanups.push(() => c.close());
  process.once('exit', () => c.closeSync());
  return c;
}

/** Every group configured with full replication (primary + R-1 secondaries). */
export async function fullyReplicated(c: LocalKvCluster, replication: number, ms: number): Promise<Record<string, GroupConfig>> {
  return until(
    'every group fully replicated',
    async () => {
      const g = await c.groups();
      if (g === undefined || Object.keys(g).length === 0) return undefined;
      return Object.values(g).every((x) => x.secondaries.length === replication - 1) ? g : undefined;
    },
    ms,
    100,
  );
}

/** Retry `f` until it is ok (the cluster may still be electing, bootstrapping). */
export async function eventually<T extends { type: string }>(what: string, f: () => Promise<T>, ms: number): Promise<T> {
  let last: T | undefined;
  return until(
    what,
    async () => {
      last = await f();
      return last.type === 'ok' ? last : undefined;
    },
    ms,
    50,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last outcome ${JSON.stringify(last)}`);
  });
}
