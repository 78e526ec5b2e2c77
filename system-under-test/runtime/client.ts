// Client of the configuration manager: JSON request frames over TCP to any CM
// node, following "not-leader" redirects. Reads are retried freely; a write is
// retried only when it certainly did not happen (the node said not-leader, or
// the connection failed before the request was sent). A write whose fate is
// unknown (timeout, connection lost after sending) is reported as
// { ok: false, error: 'timeout', unknown: true }, never retried: a blind retry
// of a compare-and-set could turn a success into a reported failure.

import * as net from 'node:net';
import type { GroupConfig, GroupLayout, ServerInfo } from '../cm/state.js';
import type { Membership, NodeId, Role } from '../raft/types.js';
import { FrameDecoder, encodeFrame } from '../wire/frame.js';
import { parseAddress } from './transport.js';

export type CmRequest =
  | { readonly op: 'status' }
  | { readonly op: 'get'; readonly group?: string }
  | { readonly op: 'registerServer'; readonly id: string; readonly address: string }
  | { readonly op: 'createGroups'; readonly groups: Readonly<Record<string, GroupLayout>> }
  | { readonly op: 'reconfigure'; readonly group: string; readonly expectedVersion: number; readonly config: GroupLayout }
  | { readonly op: 'addMember'; readonly id: NodeId; readonly address: string }
  | { readonly op: 'removeMember'; readonly id: NodeId };

export interface StatusResponse {
  readonly ok: true;
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly leaderAddress: string | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly config: Membership;
}

export interface GetResponse {
  readonly ok: true;
  readonly groups: Record<string, GroupConfig>;
  readonly servers: Record<string, ServerInfo>;
}

export type CmResponse =
  | ({ readonly ok: true } & Record<string, unknown>)
  | {
      readonly ok: false;
      readonly error: string;
      readonly unknown?: boolean;
      readonly leader?: NodeId | null;
      readonly leaderAddress?: string | null;
      readonly group?: GroupConfig;
    };

const IDEMPOTENT = new Set(['status', 'get']);

class Connection {
  private readonly socket: net.Socket;
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, (r: CmResponse | Error) => void>();
  private nextId = 1;
  private connected: Promise<void>;
  dead = false;

  constructor(address: string, localAddress: string | undefined) {
    const a = parseAddress(address);
    this.socket = net.connect({ host: a.host, port: a.port, localAddress });
    this.socket.setNoDelay(true);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.connected.catch(() => undefined);
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => this.fail(new Error('connection closed')));
    this.socket.on('data', (chunk: Buffer) => {
      const { frames, error } = this.decoder.push(chunk);
      for (const f of frames) {
        if (f.kind !== 'json') continue;
        const { rid, ...response } = f.value as { rid?: number } & CmResponse;
        const done = typeof rid === 'number' ? this.pending.get(rid) : undefined;
        if (done !== undefined) {
          this.pending.delete(rid!);
          done(response as CmResponse);
        }
      }
      if (error !== null) this.socket.destroy();
    });
  }

  /** Resolves with the response; rejects with { sent } telling whether the request left. */
  async call(req: CmRequest, timeoutMs: number): Promise<CmResponse> {
    // A peer whose host vanished (a killed container) never refuses: the
    // connect would hang for minutes. The attempt's deadline covers it; the
    // request certainly did not leave.
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.connected,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (e) {
      this.socket.destroy();
      throw Object.assign(new Error(`connect failed: ${(e as Error).message}`), { sent: false });
    } finally {
      clearTimeout(timer);
    }
    if (this.dead) throw Object.assign(new Error('connection closed'), { sent: false });
    const rid = this.nextId++;
    return new Promise<CmResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(Object.assign(new Error('request timed out'), { sent: true }));
      }, timeoutMs);
      this.pending.set(rid, (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(Object.assign(r, { sent: true }));
        else resolve(r);
      });
      this.socket.write(encodeFrame({ kind: 'json', value: { ...req, rid } }));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(err: Error): void {
    this.dead = true;
    for (const done of this.pending.values()) done(err);
    this.pending.clear();
  }
}

export interface CmClientOptions {
  /** Give up (unknown outcome for writes) after this long. */
  readonly timeoutMs?: number;
  /** Per-attempt timeout. */
  readonly attemptMs?: number;
  /** Bind outgoing connections to this local address (a node's own listen host; see bindAddressFor). */
  readonly localAddress?: string;
}

export class CmClient {
  private readonly conns = new Map<string, Connection>();
  private leaderHint: string | null = null;
  private next = 0;

  constructor(
    private readonly addresses: readonly string[],
    private readonly opts: CmClientOptions = {},
  ) {
    if (addresses.length === 0) throw new Error('CmClient needs at least one CM address');
  }

  async request(req: CmRequest): Promise<CmResponse> {
    const deadline = performance.now() + (this.opts.timeoutMs ?? 5000);
    const idempotent = IDEMPOTENT.has(req.op);
    let target = this.leaderHint ?? this.addresses[this.next++ % this.addresses.length];
    let last: CmResponse = { ok: false, error: 'unreachable', unknown: false };
    while (performance.now() < deadline) {
      const attempt = Math.min(this.opts.attemptMs ?? 1500, Math.max(1, deadline - performance.now()));
      try {
        const resp = await this.conn(target).call(req, attempt);
        if (resp.ok || (resp.error !== 'not-leader' && resp.error !== 'leader-not-ready')) {
          if (resp.ok && req.op !== 'status') this.leaderHint = target;
          return resp;
        }
        last = resp;
        // Not proposed anywhere: safe to retry, at the leader if we know it
        // (a new leader is "not ready" until it commits an entry of its term).
        const redirect = resp.error === 'not-leader' ? resp.leaderAddress : target;
        target = redirect ?? this.addresses[this.next++ % this.addresses.length];
        if (resp.error !== 'not-leader' || redirect === undefined || redirect === null) await sleep(50);
      } catch (e) {
        this.drop(target);
        if ((e as { sent?: boolean }).sent === true) {
          if (!idempotent) return { ok: false, error: 'timeout', unknown: true };
          last = { ok: false, error: 'timeout', unknown: false };
        }
        if (this.leaderHint === target) this.leaderHint = null;
        target = this.addresses[this.next++ % this.addresses.length];
        await sleep(50);
      }
    }
    // Only not-leader answers or failed connections so far: the request was never proposed.
    return last.ok ? last : { ...last, error: last.error === 'not-leader' ? 'no-leader' : last.error, unknown: false };
  }

  close(): void {
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }

  private conn(address: string): Connection {
    let c = this.conns.get(address);
    if (c === undefined || c.dead) {
      c = new Connection(address, this.opts.localAddress);
      this.conns.set(address, c);
    }
    return c;
  }

  private drop(address: string): void {
    this.conns.get(address)?.close();
    this.conns.delete(address);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
