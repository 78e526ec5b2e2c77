// TCP transport for a node: one listening socket that serves both peers (Raft
// frames) and clients (JSON request frames), and one outgoing connection per
// peer, opened on demand. Delivery is best effort — Raft retransmits — so a
// message for a peer that is down or still connecting beyond a small queue is
// dropped. A connection that sends garbage (anything the frame decoder
// rejects) is logged and closed; it never takes the node down.

import * as net from 'node:net';
import type { Logger } from 'pino';
import type { Message, NodeId } from '../raft/types.js';
import { FrameDecoder, encodeFrame } from '../wire/frame.js';

export interface Address {
  readonly host: string;
  readonly port: number;
}

export function parseAddress(s: string): Address {
  const m = /^(.+):(\d{1,5})$/.exec(s.trim());
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= 0 && port <= 65535)) throw new Error(`bad address ${JSON.stringify(s)} (want HOST:PORT)`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * The local address an outgoing connection of a node listening on `host`
 * binds to, or undefined to let the OS choose. A node on 127.0.0.11 must dial
 * from 127.0.0.11 (not the default 127.0.0.1) so that a packet filter rule
 * "drop 127.0.0.11 -> 127.0.0.12" cuts exactly that link; 127.0.0.1 itself,
 * wildcard and host names are left alone.
 */
export function bindAddressFor(host: string): string | undefined {
  if (host === '127.0.0.1' || host === '0.0.0.0' || host === '::' || host === '::1' || host === 'localhost' || host === '') return undefined;
  return net.isIP(host) !== 0 ? host : undefined;
}

export interface TransportOptions {
  readonly id: NodeId;
  readonly listen: Address;
  /** Current address ("host:port") of a peer, or undefined if unknown. */
  readonly resolve: (id: NodeId) => string | undefined;
  readonly logger: Logger;
  readonly onMessage: (m: Message) => void;
  /** A client request; call reply once with the response. */
  readonly onRequest: (request: unknown, reply: (response: unknown) => void) => void;
  /** Frames queued per peer while its connection is being set up. */
  readonly maxQueue?: number;
  /** Wait this long after a failed connection before dialing that peer again. */
  readonly redialMs?: number;
}

interface Outgoing {
  readonly address: string;
  readonly socket: net.Socket;
  connected: boolean;
  queue: Uint8Array[];
}

/** A server on `listen` that hands every connection to `accept`; rejects if it cannot bind. */
export function listenOn(listen: Address, logger: Logger, accept: (socket: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer(accept);
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      server.on('error', (err) => logger.error({ event: 'listen-error', err: err.message }, 'listen error'));
      resolve(server);
    });
  });
}

/** How long a connection to a peer may take before it is dropped and dialled again. */
export const CONNECT_TIMEOUT_MS = 1000;

/** A connection to a peer from our own listen host (see bindAddressFor), or undefined for a bad address. */
export function dialPeer(peer: string, address: string, listen: Address, logger: Logger, connectTimeoutMs = CONNECT_TIMEOUT_MS): net.Socket | undefined {
  let addr: Address;
  try {
    addr = parseAddress(address);
  } catch {
    logger.warn({ event: 'bad-peer-address', peer, address }, 'bad peer address');
    return undefined;
  }
  const socket = net.connect({ host: addr.host, port: addr.port, localAddress: bindAddressFor(listen.host) });
  socket.setNoDelay(true);
  // A peer whose host vanished (a killed container's address) drops our SYNs instead of refusing
  // them, and the kernel would keep trying for minutes while messages queue: give up, so that the
  // caller's redial finds the peer soon after it is back.
  const timer = setTimeout(() => socket.destroy(new Error(`connect to ${peer} at ${address} timed out`)), connectTimeoutMs);
  socket.once('connect', () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
  return socket;
}

export class TcpTransport {
  private server: net.Server | null = null;
  private readonly out = new Map<NodeId, Outgoing>();
  private readonly redialAt = new Map<NodeId, number>();
  private readonly inbound = new Set<net.Socket>();
  private closed = false;
  /** Connections closed for sending garbage (for tests and status). */
  rejectedConnections = 0;

  constructor(private readonly o: TransportOptions) {}

  /** Listen; resolves with the bound port (useful with port 0). */
  async start(): Promise<number> {
    this.server = await listenOn(this.o.listen, this.o.logger, (socket) => this.accept(socket));
    return (this.server.address() as net.AddressInfo).port;
  }

  send(m: Message): void {
    if (this.closed) return;
    const address = this.o.resolve(m.to);
    if (address === undefined) return;
    let c = this.out.get(m.to);
    if (c !== undefined && c.address !== address) {
      c.socket.destroy();
      this.out.delete(m.to);
      c = undefined;
    }
    if (c === undefined) {
      if ((this.redialAt.get(m.to) ?? 0) > performance.now()) return; // peer recently unreachable
      c = this.dial(m.to, address);
      if (c === undefined) return;
    }
    const frame = encodeFrame({ kind: 'raft', message: m });
    if (c.connected) c.socket.write(frame);
    else if (c.queue.length < (this.o.maxQueue ?? 256)) c.queue.push(frame);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.out.values()) c.socket.destroy();
    this.out.clear();
    for (const s of this.inbound) s.destroy();
    this.inbound.clear();
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((r) => server.close(() => r()));
  }

  private dial(peer: NodeId, address: string): Outgoing | undefined {
    const socket = dialPeer(peer, address, this.o.listen, this.o.logger);
    if (socket === undefined) return undefined;
    const c: Outgoing = { address, socket, connected: false, queue: [] };
    this.out.set(peer, c);
    socket.on('connect', () => {
      c.connected = true;
      for (const f of c.queue) socket.write(f);
      c.queue = [];
    });
    const drop = (): void => {
      if (this.out.get(peer) === c) {
        this.out.delete(peer);
        if (!c.connected) this.redialAt.set(peer, performance.now() + (this.o.redialMs ?? 100));
      }
    };
    socket.on('error', drop);
    socket.on('close', drop);
    // Peers never answer on this connection; anything they send is ignored.
    socket.on('data', () => undefined);
    return c;
  }

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder();
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('error', () => undefined);
    socket.on('close', () => this.inbound.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      const { frames, error } = decoder.push(chunk);
      for (const f of frames) {
        if (socket.destroyed) return;
        if (f.kind === 'raft') {
          if (f.message.to !== this.o.id) {
            this.o.logger.warn({ event: 'misaddressed', remote, to: f.message.to }, 'message for another node');
            continue;
          }
          this.o.onMessage(f.message);
        } else {
          this.o.onRequest(f.value, (response) => {
            if (!socket.destroyed) socket.write(encodeFrame({ kind: 'json', value: response }));
          });
        }
      }
      if (error !== null) {
        this.rejectedConnections++;
        this.o.logger.warn({ event: 'bad-frame', remote, error: error.message }, 'closing a connection that sent garbage');
        socket.destroy();
      }
    });
  }
}
