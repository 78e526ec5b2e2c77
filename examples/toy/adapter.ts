// The toy system as an adapter: the whole of what the harness needs to test
// it under kill and pause faults with the register workload. docs/adapters.md
// walks through it; test/examples/toy.test.ts runs it.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, projectRoot, type Client, type ClientResult, type SystemAdapter } from '../../index.js';

/** The server, as built (npm run build). */
function server(): string {
  const built = join(projectRoot(), 'dist', 'examples', 'toy', 'server.js');
  if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build`);
  return built;
}

/** One client process: HTTP requests to the one node, each op one request, never retried. */
function toyClient(): Client {
  let base = '';
  const request = async (method: string, path: string, body: unknown, signal: AbortSignal) => {
    const res = await fetch(`${base}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), signal });
    return { status: res.status, value: (await res.json()) as unknown };
  };
  return {
    async open(node) {
      base = `http://${node}`;
    },
    async invoke(op, signal): Promise<ClientResult> {
      const key = encodeURIComponent(String(op.key));
      try {
        if (op.f === 'read') return { type: 'ok', value: (await request('GET', `/r/${key}`, undefined, signal)).value as number | null };
        if (op.f === 'write') {
          await request('PUT', `/r/${key}`, op.value, signal);
          return { type: 'ok' };
        }
        if (op.f === 'cas') {
          const r = await request('POST', `/cas/${key}`, op.value, signal);
          return r.status === 200 ? { type: 'ok' } : { type: 'fail', error: 'cas-mismatch' };
        }
        throw new Error(`toy: unknown op ${op.f}`);
      } catch (e) {
        // Refused: the request never reached the server, so it certainly did not happen.
        const code = (e as { cause?: { code?: string } }).cause?.code;
        if (code === 'ECONNREFUSED') return { type: 'fail', error: 'connection-refused' };
        // A read changes nothing: whatever happened to it, it may be a fail.
        if (op.f === 'read') return { type: 'fail', error: String(code ?? (e as Error).message) };
        // A write or cas may have been applied before the answer was lost: unknown.
        return { type: 'info', error: String(code ?? (e as Error).message) };
      }
    },
    async close() {},
  };
}

export const toyAdapter: SystemAdapter = {
  name: 'toy',
  summary: 'one process holding registers over HTTP (docs/adapters.md)',
  options: { durable: { describe: 'fsync every change to a log before answering', default: 'true', choices: ['true', 'false'] } },
  bugs: [],
  capabilities: { faults: ['kill', 'pause'], workloads: ['register'] },
  deploy(s) {
    if (s.nodes !== 1) throw new InputError(`the toy system has one node, not ${s.nodes}`, {}, 'use nodes: 1');
    return {
      nodes: [{ name: 't1', role: 'server' }],
      ports: { client: 7400 },
      localPartitioning: 'source-address',
      launch: (ctx) => ({ argv: [process.execPath, server(), '--listen', ctx.node.address, '--data', ctx.dataDir, '--durable', s.options.durable] }),
      image: { name: 'toy', binaries: [process.execPath] },
      view: (nodes) => ({
        // Ready once it answers a read.
        ready: async () =>
          await fetch(`http://${nodes[0].address}/r/ready`)
            .then((r) => r.ok)
            .catch(() => false),
        leader: async () => nodes[0].name,
        groups: async () => [{ group: 'toy', primary: nodes[0].name, secondaries: [] }],
        close: () => undefined,
      }),
      clientNodes: (nodes) => nodes.map((n) => n.address),
      client: () => toyClient(),
      settings: { durable: s.options.durable },
    };
  },
};
