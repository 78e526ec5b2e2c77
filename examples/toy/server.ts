// The toy system of docs/adapters.md: one process holding registers, over
// HTTP. GET /r/KEY reads (200 with the JSON value, or null), PUT /r/KEY
// writes the JSON body, POST /cas/KEY with [from, to] compares and sets (409
// when the value is not `from`). With --durable true every change is appended
// to DATA/log.jsonl and fsynced before the answer; with false it lives in
// memory alone, so kill -9 forgets it: the harness's register check says so.
//
//   node server.js --listen HOST:PORT --data DIR --durable true|false

import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const arg = (name: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`missing --${name}`);
  return process.argv[i + 1];
};
const [host, port] = arg('listen').split(':');
const durable = arg('durable') === 'true';
const log = join(arg('data'), 'log.jsonl');
mkdirSync(arg('data'), { recursive: true });

const registers = new Map<string, unknown>();
if (durable && existsSync(log)) {
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    // A torn last line was never acknowledged: skip it.
    try {
      const [k, v] = JSON.parse(line) as [string, unknown];
      registers.set(k, v);
    } catch {
      /* empty or torn */
    }
  }
}

function set(key: string, value: unknown): void {
  if (durable) {
    appendFileSync(log, `${JSON.stringify([key, value])}\n`);
    const fd = openSync(log, 'r');
    fsyncSync(fd);
    closeSync(fd);
  }
  registers.set(key, value);
}

createServer((req, res) => {
  let body = '';
  req.on('data', (d: Buffer) => (body += String(d)));
  req.on('end', () => {
    const [, kind, key] = (req.url ?? '').split('/');
    const current = registers.has(key) ? registers.get(key) : null;
    const reply = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (kind === 'r' && req.method === 'GET') return reply(200, current);
    if (kind === 'r' && req.method === 'PUT') return (set(key, JSON.parse(body)), reply(200, null));
    if (kind === 'cas' && req.method === 'POST') {
      const [from, to] = JSON.parse(body) as [unknown, unknown];
      if (JSON.stringify(current) !== JSON.stringify(from)) return reply(409, current);
      return (set(key, to), reply(200, null));
    }
    reply(404, null);
  });
}).listen(Number(port), host);
