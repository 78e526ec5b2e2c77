// A node whose host vanished (a killed container) does not refuse
// connections: packets to it are simply lost. The CM client must give up on
// the connect at the attempt's deadline, and a node's connection to a peer
// after CONNECT_TIMEOUT_MS (then it dials again), not after the kernel's minutes.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { CmClient } from '../../../system-under-test/runtime/client.js';
import { dialPeer } from '../../../system-under-test/runtime/transport.js';

const RULE = ['INPUT', '-i', 'lo', '-d', '127.0.0.41', '-p', 'tcp', '--dport', '7999', '-j', 'DROP'];

describe('CmClient against a host that drops every packet', () => {
  it('gives up within its timeout, as not sent', async () => {
    expect(spawnSync('iptables', ['-w', '-I', ...RULE]).status, 'iptables (root) is needed to black-hole an address').toBe(0);
    const client = new CmClient(['127.0.0.41:7999'], { timeoutMs: 1500, attemptMs: 400 });
    try {
      const t = performance.now();
      const r = await client.request({ op: 'reconfigure', group: 'g0', expectedVersion: 1, config: { primary: 'd1', secondaries: [] } });
      const ms = performance.now() - t;
      expect(r.ok).toBe(false);
      // Never sent, so a definite failure rather than an unknown outcome.
      expect(r).toMatchObject({ ok: false, unknown: false });
      expect(ms).toBeLessThan(5000);
    } finally {
      client.close();
      spawnSync('iptables', ['-w', '-D', ...RULE]);
    }
  });

  it('a peer connection to it is dropped at the connect timeout, with an error saying so', async () => {
    expect(spawnSync('iptables', ['-w', '-I', ...RULE]).status, 'iptables (root) is needed to black-hole an address').toBe(0);
    try {
      const t = performance.now();
      const socket = dialPeer('n9', '127.0.0.41:7999', { host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }), 300);
      expect(socket).toBeDefined();
      const errors: string[] = [];
      socket!.on('error', (e) => errors.push(e.message));
      await new Promise<void>((r) => socket!.once('close', () => r()));
      const ms = performance.now() - t;
      expect(errors).toEqual(['connect to n9 at 127.0.0.41:7999 timed out']);
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(5000);
    } finally {
      spawnSync('iptables', ['-w', '-D', ...RULE]);
    }
  });
});
