// Outgoing connections of a node leave from its own listen address, so that a
// packet filter rule between two 127.0.0.x addresses cuts exactly that link.

import * as net from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CmClient } from '../../../system-under-test/runtime/client.js';
import { DataTransport } from '../../../system-under-test/runtime/data-transport.js';
import { TcpTransport, bindAddressFor } from '../../../system-under-test/runtime/transport.js';

/** A server on 127.0.0.12 that reports the source address of the first connection. */
async function sink(): Promise<{ port: number; from: Promise<string>; close: () => Promise<void> }> {
  let got!: (a: string) => void;
  const from = new Promise<string>((r) => (got = r));
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    got(s.remoteAddress ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.12', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    from,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const log = pino({ level: 'silent' });

describe('outgoing connections bind to the node address', () => {
  it('bindAddressFor: 127.0.0.1, wildcards and names are left to the OS', () => {
    expect(bindAddressFor('127.0.0.11')).toBe('127.0.0.11');
    expect(bindAddressFor('10.1.2.3')).toBe('10.1.2.3');
    for (const h of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'db.example']) expect(bindAddressFor(h)).toBeUndefined();
  });

  it('the data transport, the CM transport and the CM client of a node on 127.0.0.11 dial from 127.0.0.11', async () => {
    for (const dial of ['data', 'cm', 'client'] as const) {
      const s = await sink();
      const target = `127.0.0.12:${s.port}`;
      let close: () => Promise<void> | void;
      if (dial === 'data') {
        const t = new DataTransport({
          id: 'd1',
          listen: { host: '127.0.0.11', port: 0 },
          resolve: () => target,
          isPeer: (id) => id === 'd2',
          logger: log,
          onEnvelopes: () => undefined,
        });
        t.send({ from: 'd1', to: 'd2', msg: { kind: 'join', group: 'g0', version: 1 } });
        close = () => t.close();
      } else if (dial === 'cm') {
        const t = new TcpTransport({
          id: 'n1',
          listen: { host: '127.0.0.11', port: 0 },
          resolve: () => target,
          logger: log,
          onMessage: () => undefined,
          onRequest: () => undefined,
        });
        t.send({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, commit: 0, seq: 1 });
        close = () => t.close();
      } else {
        const c = new CmClient([target], { timeoutMs: 200, attemptMs: 100, localAddress: bindAddressFor('127.0.0.11') });
        void c.request({ op: 'status' });
        close = () => c.close();
      }
      try {
        expect(await s.from, dial).toBe('127.0.0.11');
      } finally {
        await close();
        await s.close();
      }
    }
  });
});
