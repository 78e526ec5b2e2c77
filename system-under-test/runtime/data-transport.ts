// TCP transport of a data server: PacificA envelopes between data servers, and
// client requests and replies, on one listening port. The frames are the
// project's checksummed frames (../wire/frame.ts) with a JSON payload
// `{ e: Envelope[] }`: everything queued for one connection during one turn of
// the event loop leaves as one frame (one write, one checksum, one parse on the
// other side), which is what keeps per-message costs down under load.
//
// Delivery is best effort (the protocol resends: beacons, prepares from the
// peer's match point, clients time out): a peer that is down or still
// connecting beyond a bounded queue loses messages. Replies go back on the
// connection their request came in on (a client is known by the `from` of its
// requests). Garbage closes the connection, never the node.

import * as net from 'node:net';
import type { Logger } from 'pino';
import type { Envelope } from '../pacifica/types.js';
import { FrameDecoder, encodeFrame } from '../wire/frame.js';
import { dialPeer, listenOn, type Address } from './transport.js';

export interface DataTransportOptions {
  readonly id: string;
  readonly listen: Address;
  /** Current address ("host:port") of a data server, or undefined if it is not one we know. */
  readonly resolve: (id: string) => string | undefined;
  /** Is `id` a data server (even one whose address is not known yet)? Anything else is a client. */
  readonly isPeer: (id: string) => boolean;
  readonly logger: Logger;
  /** Every envelope of one frame, addressed to this node (client requests included). */
  readonly onEnvelopes: (envs: readonly Envelope[]) => void;
  /** Frames (batches) held per peer while its connection is being set up. */
  readonly maxQueue?: number;
  /** Wait this long after a failed connection before dialing that peer again. */
  readonly redialMs?: number;
}

/** One batch of envelopes per connection per event-loop turn (flushed by its transport). */
class Batcher {
  pending: Envelope[] = [];

  constructor(private readonly write: (frame: Uint8Array) => void) {}

  flush(): void {
    if (this.pending.length === 0) return;
    const e = this.pending;
    this.pending = [];
    this.write(encodeFrame({ kind: 'json', value: { e } }));
  }
}

interface Outgoing {
  readonly address: string;
  readonly socket: net.Socket;
  connected: boolean;
  /** Frames encoded before the connection was up. */
  queue: Uint8Array[];
  readonly batch: Batcher;
}

interface Inbound {
  readonly socket: net.Socket;
  readonly batch: Batcher;
}

/** Shape check of an envelope from the network (the protocol code trusts its input's shape). */
export function isEnvelope(x: unknown): x is Envelope {
  const e = x as Envelope;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.from === 'string' &&
    typeof e.to === 'string' &&
    typeof e.msg === 'object' &&
    e.msg !== null &&
    typeof e.msg.kind === 'string' &&
    typeof e.msg.group === 'string'
  );
}

export class DataTransport {
  private server: net.Server | null = null;
  private readonly out = new Map<string, Outgoing>();
  private readonly redialAt = new Map<string, number>();
  private readonly inbound = new Set<Inbound>();
  /** Client id -> the connection its requests came in on. */
  private readonly clients = new Map<string, Inbound>();
  private closed = false;
  /** Connections with envelopes waiting, and whether a flush is scheduled for them. */
  private readonly dirty = new Set<Batcher>();
  private flushScheduled = false;
  rejectedConnections = 0;

  constructor(private readonly o: DataTransportOptions) {}

  async start(): Promise<number> {
    this.server = await listenOn(this.o.listen, this.o.logger, (socket) => this.accept(socket));
    return (this.server.address() as net.AddressInfo).port;
  }

  send(env: Envelope): void {
    if (this.closed) return;
    if (!this.o.isPeer(env.to)) {
      // A client, answered on the connection its request came in on (if it is still there).
      const c = this.clients.get(env.to);
      if (c !== undefined) this.push(c.batch, env);
      return;
    }
    const address = this.o.resolve(env.to);
    if (address === undefined) return; // a data server we cannot reach yet
    let c = this.out.get(env.to);
    if (c !== undefined && c.address !== address) {
      c.socket.destroy();
      this.out.delete(env.to);
      c = undefined;
    }
    if (c === undefined) {
      if ((this.redialAt.get(env.to) ?? 0) > performance.now()) return; // recently unreachable
      c = this.dial(env.to, address);
      if (c === undefined) return;
    }
    if (!c.connected && c.queue.length >= (this.o.maxQueue ?? 256)) return;
    this.push(c.batch, env);
  }

  /**
   * Write every connection's batch now. The server calls it after its per-turn drain, so that what
   * the turn produced leaves in that turn; anything sent later is flushed on the next check phase.
   */
  flush(): void {
    if (this.dirty.size === 0) return;
    const bs = [...this.dirty];
    this.dirty.clear();
    for (const b of bs) b.flush();
  }

  private push(b: Batcher, env: Envelope): void {
    b.pending.push(env);
    this.dirty.add(b);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.dirty.clear();
    for (const c of this.out.values()) c.socket.destroy();
    this.out.clear();
    for (const i of this.inbound) i.socket.destroy();
    this.inbound.clear();
    this.clients.clear();
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((r) => server.close(() => r()));
  }

  private dial(peer: string, address: string): Outgoing | undefined {
    const socket = dialPeer(peer, address, this.o.listen, this.o.logger);
    if (socket === undefined) return undefined;
    const c: Outgoing = {
      address,
      socket,
      connected: false,
      queue: [],
      batch: new Batcher((frame) => {
        if (c.connected) socket.write(frame);
        else c.queue.push(frame);
      }),
    };
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
    socket.on('data', () => undefined); // peers answer on their own connections
    return c;
  }

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const conn: Inbound = {
      socket,
      batch: new Batcher((frame) => {
        if (!socket.destroyed) socket.write(frame);
      }),
    };
    this.inbound.add(conn);
    const decoder = new FrameDecoder();
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const mine = new Set<string>();
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.inbound.delete(conn);
      for (const id of mine) if (this.clients.get(id) === conn) this.clients.delete(id);
    });
    socket.on('data', (chunk: Buffer) => {
      const { frames, error } = decoder.push(chunk);
      let bad = error !== null ? error.message : null;
      for (const f of frames) {
        if (socket.destroyed) return;
        const e = f.kind === 'json' ? (f.value as { e?: unknown }).e : undefined;
        if (!Array.isArray(e) || !e.every(isEnvelope)) {
          bad = 'not a batch of envelopes';
          break;
        }
        const envs = e.filter((x) => {
          if (x.to === this.o.id) return true;
          this.o.logger.warn({ event: 'misaddressed', remote, to: x.to }, 'message for another node');
          return false;
        });
        for (const x of envs) {
          // A client is known by its requests; a data server's id is never taken over.
          if (x.msg.kind === 'request' && !this.o.isPeer(x.from) && !mine.has(x.from)) {
            mine.add(x.from);
            this.clients.set(x.from, conn);
          }
        }
        if (envs.length > 0) this.o.onEnvelopes(envs);
      }
      if (bad !== null) {
        this.rejectedConnections++;
        this.o.logger.warn({ event: 'bad-frame', remote, error: bad }, 'closing a connection that sent garbage');
        socket.destroy();
      }
    });
  }
}
