// etcd's v3 JSON gateway over HTTP/1.1: POST /v3/... with a JSON body, keys
// and values base64, 64-bit integers as decimal strings (revisions, member
// ids: kept as strings, they exceed 2^53). One `Gateway` talks to one member
// and keeps its connections alive; a request is one attempt, never retried.
//
// A failed request is an `EtcdError` that says whether it certainly changed
// nothing (`definite`), as Jepsen's etcd client does:
//   definite    refused before the request was sent (ECONNREFUSED, a connect
//               that never completed), a request etcd rejected before
//               proposing it (gRPC codes InvalidArgument, NotFound,
//               AlreadyExists, PermissionDenied, ResourceExhausted "too many
//               requests", FailedPrecondition, OutOfRange "compacted");
//   indefinite  the request was sent and then: a timeout, our abort, a reset
//               or closed connection, Unavailable ("leader changed", "request
//               timed out"), DeadlineExceeded, Unknown, or anything else.
// Whether it was sent: the request's 'finish' (its bytes handed to the
// kernel). A caller whose request cannot have changed anything (a read) marks
// every error definite.

import * as http from 'node:http';

export class EtcdError extends Error {
  constructor(
    message: string,
    /** Certainly changed nothing. */
    readonly definite: boolean,
    /** gRPC status code from etcd's answer, when it answered. */
    readonly code?: number,
  ) {
    super(message);
    this.name = 'EtcdError';
  }
}

/** gRPC codes that etcd answers only for a request it did not carry out. */
const DEFINITE_CODES = new Set([
  3, // InvalidArgument: duplicate key, too many operations, key not provided
  5, // NotFound: member or lease not found
  6, // AlreadyExists: peer URLs already exist
  7, // PermissionDenied
  8, // ResourceExhausted: too many requests (applied index too far behind)
  9, // FailedPrecondition: learner not ready to promote, too many learners
  11, // OutOfRange: revision compacted
]);
// "unhealthy cluster": a reconfiguration refused (code Unavailable) by
// --strict-reconfig-check before it is proposed (it would lose quorum among
// the members connected for 5 s).
const DEFINITE_MESSAGES =
  /compacted|too many requests|duplicate key|member not found|peer urls already exists|not enough started members|can only promote a learner member which is in sync|unhealthy cluster/i;

/** What etcd's gateway answers with a non-200 status: `{error, code, message}`. */
export function serverError(status: number, body: string): EtcdError {
  let code: number | undefined;
  let message = body.trim().slice(0, 300) || `HTTP ${status}`;
  try {
    const j = JSON.parse(body) as { error?: unknown; code?: unknown; message?: unknown };
    if (typeof j.code === 'number') code = j.code;
    const m = typeof j.message === 'string' ? j.message : typeof j.error === 'string' ? j.error : undefined;
    if (m) message = m;
  } catch {
    // Not JSON: a proxy's or a dying server's answer; the raw text is the message.
  }
  const definite = (code !== undefined && DEFINITE_CODES.has(code)) || DEFINITE_MESSAGES.test(message);
  return new EtcdError(message, definite, code);
}

/** Transport errors that say the request never reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);

export interface RequestOptions {
  signal?: AbortSignal;
  /** Give up after this long (an indefinite error once the request was sent). */
  timeoutMs?: number;
}

/** `host:port` split; the port is required. */
export function parseAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError(`not a host:port address: ${JSON.stringify(address)}`);
  return { host: address.slice(0, i), port };
}

export class Gateway {
  readonly host: string;
  readonly port: number;
  private readonly agent: http.Agent;

  constructor(readonly address: string) {
    ({ host: this.host, port: this.port } = parseAddress(address));
    // One op at a time per client; a few sockets for the view's parallel questions.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  }

  /** POST `path` with `body`; etcd's JSON answer, or an EtcdError. */
  post<T>(path: string, body: unknown, o: RequestOptions = {}): Promise<T> {
    const payload = JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      if (o.signal?.aborted) {
        reject(new EtcdError('aborted before it was sent', true));
        return;
      }
      let sent = false;
      let settled = false;
      const req = http.request({
        host: this.host,
        port: this.port,
        path,
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      });
      // `answered`: the whole answer arrived, so the connection stays for the next request.
      const settle = (err: EtcdError | null, value?: T, answered = false) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        if (!answered) req.destroy();
        if (err) reject(err);
        else resolve(value as T);
      };
      const onAbort = () => settle(new EtcdError(sent ? 'aborted after it was sent' : 'aborted before it was sent', !sent));
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const timer =
        o.timeoutMs !== undefined
          ? setTimeout(
              () => settle(new EtcdError(`timed out after ${Math.round(o.timeoutMs!)} ms${sent ? '' : ' (not sent)'}`, !sent)),
              Math.max(0, o.timeoutMs),
            )
          : undefined;
      req.on('finish', () => {
        sent = true;
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        const notSent = !sent || NOT_SENT_CODES.has(e.code ?? '');
        settle(new EtcdError(`${e.code ?? 'error'}: ${e.message}${notSent ? ' (not sent)' : ''}`, notSent));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => settle(new EtcdError(`answer cut off: ${e.message}`, false)));
        res.on('aborted', () => settle(new EtcdError('answer cut off', false)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            settle(serverError(res.statusCode ?? 0, text), undefined, true);
            return;
          }
          try {
            settle(null, JSON.parse(text) as T, true);
          } catch {
            settle(new EtcdError(`malformed answer: ${text.slice(0, 200)}`, false), undefined, true);
          }
        });
      });
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

// ------------------------------------------------------------ etcd's types

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
export const unb64 = (s: string | undefined): string => (s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8'));

export interface KeyValue {
  key: string;
  value?: string;
  mod_revision?: string;
  create_revision?: string;
  version?: string;
}
export interface RangeResponse {
  header?: { revision?: string; member_id?: string };
  kvs?: KeyValue[];
  count?: string;
}
export interface TxnResponse {
  header?: { revision?: string };
  /** Left out when false. */
  succeeded?: boolean;
  responses?: { response_range?: RangeResponse; response_put?: unknown }[];
}
export interface Member {
  ID: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}
export interface StatusResponse {
  header?: { member_id?: string; raft_term?: string };
  version?: string;
  leader?: string;
  raftIndex?: string;
  raftAppliedIndex?: string;
  raftTerm?: string;
  isLearner?: boolean;
  errors?: string[];
}

export const rangeOp = (key: string, serializable = false) => ({ request_range: { key: b64(key), ...(serializable ? { serializable: true } : {}) } });
export const putOp = (key: string, value: string) => ({ request_put: { key: b64(key), value: b64(value) } });
/** Compare a key's mod_revision; an absent key's is 0. */
export const modIs = (key: string, revision: string) => ({ result: 'EQUAL', target: 'MOD', key: b64(key), mod_revision: revision });
export const valueIs = (key: string, value: string) => ({ result: 'EQUAL', target: 'VALUE', key: b64(key), value: b64(value) });
