import { describe, expect, it } from 'vitest';
import { Progress } from '../../harness/run/progress.js';
import type { Op } from '../../history/types.js';

const op = (index: number, type: Op['type'], f: string, process: Op['process'], value: Op['value'] = null): Op => ({
  index,
  type,
  f,
  process,
  value,
  time: index,
});

describe('the progress line', () => {
  it('counts client outcomes and shows the faults in force until they are stopped', () => {
    const h: Op[] = [];
    const p = new Progress(() => h, 30, { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream);
    expect(p.line(0)).toBe('[   0s / 30s] ok 0  fail 0  info 0  faults: none');
    h.push(op(0, 'invoke', 'read', 0), op(1, 'ok', 'read', 0), op(2, 'invoke', 'write', 1), op(3, 'info', 'write', 1));
    h.push(op(4, 'invoke', 'kill', 'nemesis', 'primary'), op(5, 'info', 'kill', 'nemesis', { target: 'primary', node: 'd2' }));
    h.push(op(6, 'invoke', 'partition', 'nemesis', 'halves'), op(7, 'info', 'partition', 'nemesis', { about: 'random halves' }));
    expect(p.line(12.4)).toBe('[  12s / 30s] ok 1  fail 0  info 1  faults: kill d2; partition: random halves');
    h.push(op(8, 'invoke', 'start', 'nemesis'), op(9, 'info', 'start', 'nemesis', { nodes: ['d2'] }), op(10, 'invoke', 'cas', 2), op(11, 'fail', 'cas', 2));
    expect(p.line(20)).toBe('[  20s / 30s] ok 1  fail 1  info 1  faults: partition: random halves');
    h.push(op(12, 'invoke', 'heal-all', 'nemesis'), op(13, 'info', 'heal-all', 'nemesis', {}));
    expect(p.line(31)).toMatch(/^\[ {2}31s \/ 30s, healing and final reads\] .*faults: none$/);
  });
});
