// The results browser's HTTP handler (node:http, no framework): the runs index
// at / (campaigns and their trend below the runs), the same data at /api/runs
// and /api/campaigns, and the store's files under /store/...
// (a directory listing for folders). It serves nothing outside the store: a
// request path is checked segment by segment before it touches the file
// system, and what it names is resolved with realpath, so a symlink that
// leads out of the store is as much a 404 as `..`.

import { createReadStream, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { listCampaigns } from './serve-campaigns.js';
import { listRuns, type RunCache } from './serve-runs.js';
import { renderDirectoryPage, renderRunsPage, type DirEntry } from './runs-page.js';

export type ServeHandler = (req: IncomingMessage, res: ServerResponse) => void;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.jsonl': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.edn': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

// Our own pages carry their script and style inline and fetch nothing.
const PAGE_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/**
 * The store-relative segments a URL path (after /store/) names, or null if it
 * is not a plain path inside the store. Decodes percent-escapes once and
 * refuses whatever could climb out or smuggle: `.`/`..` segments (raw or
 * encoded), empty segments (`//`, an absolute path), backslashes, NUL and
 * other control characters, and any `%` left after decoding (double encoding;
 * the store's own names never contain one).
 */
export function storeSegments(rawPath: string): string[] | null {
  if (rawPath === '') return [];
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  if (/[\\%\u0000-\u001f\u007f]/.test(decoded)) return null;
  const segments = decoded.split('/');
  // A trailing slash names a folder: its last segment is empty.
  if (segments[segments.length - 1] === '') segments.pop();
  for (const s of segments) if (s === '' || s === '.' || s === '..' || s.includes(':')) return null;
  return segments;
}

/** The real path of `segments` under the store, if it exists and stays inside it. */
export function resolveInStore(storeReal: string, segments: string[]): { path: string; stat: Stats } | null {
  let real: string;
  try {
    real = realpathSync(join(storeReal, ...segments));
  } catch {
    return null;
  }
  if (real !== storeReal && !real.startsWith(storeReal + sep)) return null;
  try {
    const stat = statSync(real);
    return stat.isFile() || stat.isDirectory() ? { path: real, stat } : null;
  } catch {
    return null;
  }
}

export interface ServeOptions {
  /** For the index's "running" status; tests pin it. */
  now?: () => number;
}

export function createServeHandler(storeDir: string, opts: ServeOptions = {}): ServeHandler {
  // Resolved once: every file served must resolve to somewhere under this.
  const storeReal = realpathSync(storeDir);
  const now = opts.now ?? Date.now;
  // Checked runs' summaries, kept while their files are unchanged (listRuns).
  const cache: RunCache = new Map();

  return (req, res) => {
    try {
      handle(req, res);
    } catch {
      // Whatever went wrong (a file vanished mid-listing, ...), the client gets
      // a plain error, never a stack trace.
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    }
  };

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    // The raw path, not new URL(...).pathname: URL parsing would quietly
    // resolve `..` and `%2e%2e`, and we want to refuse them, not reinterpret them.
    const raw = (req.url ?? '').split(/[?#]/, 1)[0];
    if (raw === '/' || raw === '/index.html') {
      return send(res, 200, 'text/html; charset=utf-8', renderRunsPage(listRuns(storeReal, { now: now(), cache }), listCampaigns(storeReal)), {
        'Content-Security-Policy': PAGE_CSP,
      });
    }
    if (raw === '/api/runs') {
      return send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify({ runs: listRuns(storeReal, { now: now(), cache }) }, null, 2)}\n`);
    }
    if (raw === '/api/campaigns') {
      return send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify({ campaigns: listCampaigns(storeReal) }, null, 2)}\n`);
    }
    if (raw === '/favicon.ico') {
      // Browsers ask for it on every page, the raw files included; we have none.
      res.writeHead(204, { 'Cache-Control': 'max-age=86400' });
      res.end();
      return;
    }
    if (raw === '/store') return redirect(res, '/store/');
    if (!raw.startsWith('/store/')) return notFound(res);

    const segments = storeSegments(raw.slice('/store/'.length));
    const found = segments && resolveInStore(storeReal, segments);
    if (!segments || !found) return notFound(res);

    if (found.stat.isDirectory()) {
      // Relative links in a listing need the trailing slash.
      if (!raw.endsWith('/')) return redirect(res, `${raw}/`);
      return send(res, 200, 'text/html; charset=utf-8', renderDirectoryPage(segments, listDirectory(storeReal, found.path)), {
        'Content-Security-Policy': PAGE_CSP,
      });
    }
    if (raw.endsWith('/')) return notFound(res);

    res.writeHead(200, {
      'Content-Type': contentTypeOf(found.path),
      'Content-Length': found.stat.size,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (found.stat.size === 0) {
      res.end();
      return;
    }
    // Only the bytes that were there when we looked: a running test keeps
    // appending to its history, and Content-Length must hold.
    const stream = createReadStream(found.path, { start: 0, end: found.stat.size - 1 });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }
}

/** A folder's entries; links to what leads outside the store are left out. */
function listDirectory(storeReal: string, dir: string): DirEntry[] {
  const entries: DirEntry[] = [];
  for (const name of readdirSync(dir).sort()) {
    const found = resolveInStore(storeReal, [...dir.slice(storeReal.length).split(sep).filter(Boolean), name]);
    if (!found) continue;
    entries.push({ name, dir: found.stat.isDirectory(), size: found.stat.size, modified: found.stat.mtime.toISOString() });
  }
  return entries;
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': bytes.length, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache', ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : bytes);
}

function notFound(res: ServerResponse): void {
  send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(301, { Location: location, 'Content-Length': 0 });
  res.end();
}
