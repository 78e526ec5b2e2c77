import { describe, expect, it } from 'vitest';
import { referenceAdapter } from '../../../adapters/reference/index.js';
import type { NodeInfo } from '../../../harness/core/provider.js';

const defaults = () => Object.fromEntries(Object.entries(referenceAdapter.options).map(([k, spec]) => [k, spec.default]));

function argvOf(options: Record<string, string>, role: 'cm' | 'data'): readonly string[] {
  const d = referenceAdapter.deploy({ nodes: 3, bugs: [], options, workload: 'register' });
  const nodes: NodeInfo[] = d.nodes.map((n, i) => ({ ...n, host: `127.0.0.${i + 2}`, address: `127.0.0.${i + 2}:7000` }));
  const node = nodes.find((n) => n.role === role)!;
  return d.launch({ provider: 'local', node, nodes, dataDir: '/tmp/x', join: false }).argv;
}

describe('the reference adapter options', () => {
  it('pass election-ticks to the CM nodes only, with heartbeats a fifth of it (at least 1 tick)', () => {
    expect(argvOf(defaults(), 'cm')).not.toContain('--election-ticks');
    const cm = argvOf({ ...defaults(), 'election-ticks': '3' }, 'cm');
    expect(cm.slice(cm.indexOf('--election-ticks'), cm.indexOf('--election-ticks') + 4)).toEqual(['--election-ticks', '3', '--heartbeat-ticks', '1']);
    const cm20 = argvOf({ ...defaults(), 'election-ticks': '20' }, 'cm');
    expect(cm20[cm20.indexOf('--heartbeat-ticks') + 1]).toBe('4');
    expect(argvOf({ ...defaults(), 'election-ticks': '3' }, 'data')).not.toContain('--election-ticks');
  });

  it('refuse an election timeout below 2 ticks', () => {
    expect(referenceAdapter.options['election-ticks'].check?.('1')).toMatch(/./);
    expect(referenceAdapter.options['election-ticks'].check?.('2')).toBeNull();
  });
});
