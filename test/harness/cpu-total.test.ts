// CpuTotal: CPU seconds of processes that come and go never go backwards.

import { describe, expect, it } from 'vitest';
import { CpuTotal } from '../../harness/core/cpu-total.js';

describe('CpuTotal', () => {
  it('adds what each counter used since its last reading; a counter that went back is a new process; NaN until one is read', () => {
    const t = new CpuTotal();
    expect(t.add([['n1', NaN]])).toBeNaN();
    expect(
      t.add([
        ['n1', 2],
        ['n2', 3],
      ]),
    ).toBe(5);
    // n1 killed and started again (its counter from 0), n2 gone: the total keeps what they used.
    expect(t.add([['n1', 0.5]])).toBe(5.5);
    expect(
      t.add([
        ['n1', 1.5],
        ['n2', 4],
      ]),
    ).toBe(7.5);
  });
});
