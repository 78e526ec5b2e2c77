// A run's folder is claimed atomically: runs that start in the same
// millisecond (--provider sim's seeds on worker threads) never share one.

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRun } from '../../results/store.js';
import { folderTime } from '../../results/serve-runs.js';

describe('createRun', () => {
  it('gives runs started in the same millisecond folders of their own, each with its time', () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-store-'));
    const at = new Date('2026-12-02T10:16:10.563Z');
    const dirs = [createRun(store, 'sim', at), createRun(store, 'sim', at), createRun(store, 'sim', at)].map((p) => p.dir);
    expect(new Set(dirs).size).toBe(3);
    expect(dirs.map((d) => basename(d))).toEqual(['20261202T101610.563Z', '20261202T101610.563Z-1', '20261202T101610.563Z-2']);
    for (const d of dirs) {
      expect(existsSync(join(d, 'nodes'))).toBe(true);
      expect(folderTime(basename(d))).toBe(at.toISOString());
    }
  });
});
