// The results browser: run summaries from a store, the HTTP handler on a real
// socket (index, /api/runs, files, listings, and a table of path-traversal
// attempts), and `undertow serve` as a real process from the built CLI.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback } from '../../harness/commands/serve.js';
import { renderRunsPage, showDuration } from '../../results/runs-page.js';
import { listRuns, RUNNING_WINDOW_MS, type RunCache, type RunSummary } from '../../results/serve-runs.js';
import { createServeHandler, resolveInStore, storeSegments } from '../../results/serve.js';
import { createRun, writeJson } from '../../results/store.js';
import { fixtureStore, type FixtureStore } from './serve-store.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'harness', 'cli.js');

interface Reply {
  status: number;
  type: string | undefined;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A GET with the path exactly as given: fetch() would normalise `..` away before sending. */
function get(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function listen(handler: ReturnType<typeof createServeHandler>): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0 });
    });
  });
}

const closeServer = (server: Server | undefined) =>
  new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });

describe('run summaries', () => {
  let fx: FixtureStore;
  beforeAll(() => {
    fx = fixtureStore();
  });
  afterAll(() => rmSync(fx.store, { recursive: true, force: true }));

  it('lists each run once (not again through store/latest), newest first, with what test.json and results.json say', () => {
    const runs = listRuns(fx.store);
    expect(runs.map((r) => r.path)).toEqual(['cas-register-bug/20260302T113000.000Z', 'cas-register/20260301T100000.000Z']);
    const [bad, good] = runs;
    expect(good).toMatchObject({
      name: 'cas-register',
      verdict: 'valid',
      workload: 'register',
      interrupted: false,
      failure: null,
      faults: ['partition-random-halves', 'kill'],
      seed: 21,
      provider: 'local',
      concurrency: 5,
      bugs: [],
      startedAt: '2026-03-01T10:00:00.000Z',
      problem: null,
      report: '/store/cas-register/20260301T100000.000Z/report.html',
      files: '/store/cas-register/20260301T100000.000Z/',
    });
    expect(good.checkers).toEqual({ linear: 'valid', stats: 'valid', perf: 'valid' });
    expect(bad.verdict).toBe('invalid');
    expect(bad.checkers.linear).toBe('invalid');
    expect(bad.bugs).toEqual(['read-without-lease']);
    // endedAt - startedAt, which the fixture set to the history's span (to the ms).
    const endedAt = JSON.parse(JSON.stringify(good)).endedAt as string;
    expect(good.durationS).toBeCloseTo((Date.parse(endedAt) - Date.parse(good.startedAt!)) / 1000, 6);
    expect(good.durationS).toBeGreaterThan(0);
  });

  it('a run without results is running while its files change, and "no results" once it stopped or ended', () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-serve-'));
    try {
      const at = new Date('2026-05-01T08:00:00Z');
      const paths = createRun(store, 'inflight', at);
      // Old-style test.json: no times, nemesis as one string, a string seed.
      writeJson(paths.test, { workload: 'set', nemesis: 'partition, pause', seed: 'abc' });
      writeFileSync(
        paths.history,
        '{"index":0,"type":"invoke","f":"add","value":1,"process":0,"time":1500000000}\n{"index":1,"type":"ok","f":"add","value":1,"process":0,"time":2750000000}\n{"index":2,"type":"inv',
      );
      const now = Date.now();
      const [running] = listRuns(store, { now });
      expect(running).toMatchObject({
        name: 'inflight',
        verdict: 'running',
        workload: 'set',
        faults: ['partition', 'pause'],
        seed: 'abc',
        report: null,
        startedAt: at.toISOString(),
        endedAt: null,
      });
      // No endedAt: the duration is the last complete op's time (the torn line is skipped).
      expect(running.durationS).toBe(2.75);
      expect(listRuns(store, { now: now + RUNNING_WINDOW_MS + 60_000 })[0].verdict).toBe('no results');

      // An ended run without results.json (the checker crashed) is not running.
      writeJson(paths.test, {
        name: 'inflight',
        startedAt: '2026-05-01T08:00:00Z',
        endedAt: '2026-05-01T08:01:30.500Z',
        interrupted: true,
        failure: 'checking the history: boom',
      });
      const ended = listRuns(store, { now })[0];
      expect(ended).toMatchObject({ verdict: 'no results', durationS: 90.5, interrupted: true, failure: 'checking the history: boom' });
      const page = renderRunsPage([ended]);
      expect(page).toContain('<div class="warn">interrupted (Ctrl-C): the history ends early</div><div class="warn">failed: checking the history: boom</div>');
      expect(page).toContain('data-verdict="no results"');

      // Broken files list with a problem instead of breaking the index.
      const broken = createRun(store, 'broken', new Date('2026-05-02T00:00:00Z'));
      writeFileSync(broken.test, '{"name": ');
      writeFileSync(broken.results, '[1, 2]');
      const [b] = listRuns(store, { now });
      expect(b).toMatchObject({ name: 'broken', verdict: 'no results', workload: null, seed: null, durationS: null });
      expect(b.problem).toBe('test.json is not valid JSON; results.json is not a JSON object');
      // Folders without test.json are not runs.
      mkdirSync(join(store, 'notes', 'misc'), { recursive: true });
      expect(listRuns(store, { now }).map((r) => r.name)).toEqual(['broken', 'inflight']);
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  });

  it('with a cache, a checked run is summarized again only when its files change, and a removed run is forgotten', () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-serve-'));
    try {
      const a = createRun(store, 'a', new Date('2026-05-01T08:00:00Z'));
      writeJson(a.test, { name: 'a', workload: 'register' });
      writeJson(a.results, { verdict: 'valid', results: { linear: { verdict: 'valid' } } });
      const b = createRun(store, 'b', new Date('2026-05-02T08:00:00Z'));
      writeJson(b.test, { name: 'b', workload: 'set' }); // no results: never cached
      const cache: RunCache = new Map();
      const first = listRuns(store, { cache });
      expect(first).toEqual(listRuns(store));
      expect([...cache.keys()]).toEqual([join(store, 'a', '20260501T080000.000Z')]);
      // Unchanged files: the kept summary is served (a marker put in its place shows it was not rebuilt).
      const [key, entry] = [...cache][0];
      cache.set(key, { stamp: entry.stamp, summary: { ...entry.summary, workload: 'from the cache' } });
      expect(listRuns(store, { cache }).find((r) => r.name === 'a')?.workload).toBe('from the cache');
      // A changed results.json (other size, later time) is read again.
      writeJson(a.results, { verdict: 'invalid', results: { linear: { verdict: 'invalid' } } });
      utimesSync(a.results, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
      const again = listRuns(store, { cache }).find((r) => r.name === 'a')!;
      expect(again).toMatchObject({ verdict: 'invalid', workload: 'register', checkers: { linear: 'invalid' } });
      // A run that is gone is dropped from the cache too.
      rmSync(join(store, 'a'), { recursive: true });
      expect(listRuns(store, { cache }).map((r) => r.name)).toEqual(['b']);
      expect(cache.size).toBe(0);
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  });

  it('a missing store lists nothing', () => {
    expect(listRuns(join(tmpdir(), 'undertow-no-such-store-here'))).toEqual([]);
  });

  it('durations read as people read them', () => {
    expect([null, 0.25, 12.34, 59.9, 61, 3599.4, 3725].map(showDuration)).toEqual([
      '?',
      '0.25 s',
      '12.3 s',
      '59.9 s',
      '1 min 01 s',
      '59 min 59 s',
      '1 h 02 min',
    ]);
  });

  it('the index escapes what runs are called', () => {
    const run: RunSummary = {
      ...listRuns(fx.store)[0],
      name: '<img src=x onerror=alert(1)>',
      workload: '"><script>alert(2)</script>',
    };
    const html = renderRunsPage([run]);
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<script>alert(2)');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('request paths', () => {
  it('plain store paths split into segments; anything that could leave the store is refused', () => {
    expect(storeSegments('')).toEqual([]);
    expect(storeSegments('a/b/c.json')).toEqual(['a', 'b', 'c.json']);
    expect(storeSegments('a/b/')).toEqual(['a', 'b']);
    expect(storeSegments('with%20space/x')).toEqual(['with space', 'x']);
    for (const evil of [
      '..',
      '../x',
      'a/../../x',
      '%2e%2e/x',
      '%2E%2E%2Fx',
      '.%2e/x',
      'a/./b',
      '/etc/passwd',
      '%2fetc',
      'a//b',
      'a\\..\\b',
      'a%5c..%5cb',
      'x%00.json',
      '%252e%252e/x',
      'a%2',
      'C:/Windows',
      '%0d%0aSet-Cookie: x',
    ]) {
      expect(storeSegments(evil), evil).toBeNull();
    }
  });

  it('property: whatever the path, what resolves lies inside the store', () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-serve-'));
    const outside = mkdtempSync(join(tmpdir(), 'undertow-outside-'));
    try {
      mkdirSync(join(store, 'run', 'ts', 'nodes'), { recursive: true });
      writeFileSync(join(store, 'run', 'ts', 'test.json'), '{}');
      writeFileSync(join(outside, 'secret'), 'secret');
      symlinkSync(outside, join(store, 'run', 'out'));
      symlinkSync(join('run', 'ts'), join(store, 'latest'));
      const real = realpathSync(store);
      const parts = [
        '..',
        '.',
        '',
        'run',
        'ts',
        'out',
        'latest',
        'nodes',
        'test.json',
        'secret',
        '%2e',
        '%2e%2e',
        '%252e',
        '%2f',
        '%5c',
        '\\',
        '%00',
        'etc',
        'passwd',
        real.slice(1),
      ];
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...parts), { maxLength: 8 }), fc.boolean(), (segs, slash) => {
          const raw = segs.join('/') + (slash ? '/' : '');
          const s = storeSegments(raw);
          const found = s && resolveInStore(real, s);
          if (found) expect(found.path === real || found.path.startsWith(real + sep)).toBe(true);
          if (segs.includes('out')) expect(found && found.path.startsWith(realpathSync(outside))).toBeFalsy();
        }),
        { numRuns: 2000 },
      );
    } finally {
      rmSync(store, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('only loopback hosts count as loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '128.0.0.1', '', '::ffff:10.0.0.1']) expect(isLoopback(h), h).toBe(false);
  });
});

describe('the handler over HTTP', () => {
  let fx: FixtureStore;
  let outside: string;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    fx = fixtureStore();
    outside = mkdtempSync(join(tmpdir(), 'undertow-outside-'));
    writeFileSync(join(outside, 'secret.json'), '{"secret":"do not serve"}');
    // Escapes by symlink: a folder and a file inside the store that point out of it.
    symlinkSync(outside, join(fx.store, 'escape'));
    symlinkSync(join(outside, 'secret.json'), join(fx.valid.dir, 'secret.json'));
    writeFileSync(join(fx.valid.dir, 'timeline.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    ({ server, port } = await listen(createServeHandler(fx.store)));
  });
  afterAll(async () => {
    await closeServer(server);
    rmSync(fx.store, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('the index lists both runs newest first, links each report and folder, and carries the filter data', async () => {
    const r = await get(port, '/');
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toContain("default-src 'none'");
    const rows = [...r.body.matchAll(/<tr class="run" data-verdict="([^"]+)" data-text="([^"]+)">/g)].map((m) => ({ verdict: m[1], text: m[2] }));
    expect(rows.map((x) => x.verdict)).toEqual(['invalid', 'valid']);
    expect(rows[0].text).toContain('cas-register-bug');
    expect(rows[0].text).toContain('read-without-lease');
    expect(rows[1].text).toContain('partition-random-halves');
    expect(r.body).toContain('href="/store/cas-register/20260301T100000.000Z/report.html"');
    expect(r.body).toContain('href="/store/cas-register-bug/20260302T113000.000Z/"');
    expect(r.body).toContain('<option value="invalid">invalid (1)</option>');
    expect((await get(port, '/index.html?x=1')).body).toBe(r.body);
  });

  it('/api/runs has the same runs as JSON', async () => {
    const r = await get(port, '/api/runs');
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/json; charset=utf-8');
    const { runs } = JSON.parse(r.body) as { runs: RunSummary[] };
    expect(runs).toEqual(JSON.parse(JSON.stringify(listRuns(fx.store))));
    expect(runs.map((x) => [x.name, x.verdict])).toEqual([
      ['cas-register-bug', 'invalid'],
      ['cas-register', 'valid'],
    ]);
  });

  it("serves a run's files with their content types, through store/latest too", async () => {
    const base = '/store/cas-register/20260301T100000.000Z';
    const cases: [string, string, string][] = [
      ['report.html', 'text/html; charset=utf-8', '<canvas'],
      ['test.json', 'application/json; charset=utf-8', '"workload": "register"'],
      ['results.json', 'application/json; charset=utf-8', '"verdict": "valid"'],
      ['history.jsonl', 'text/plain; charset=utf-8', '"type":"invoke"'],
      ['nemesis.jsonl', 'text/plain; charset=utf-8', '"process":"nemesis"'],
      ['harness.log', 'text/plain; charset=utf-8', 'run started'],
      ['nodes/n1/n1.log', 'text/plain; charset=utf-8', 'n1 started'],
      ['timeline.png', 'image/png', 'PNG'],
    ];
    for (const [file, type, has] of cases) {
      const r = await get(port, `${base}/${file}`);
      expect(r.status, file).toBe(200);
      expect(r.type, file).toBe(type);
      expect(r.body, file).toContain(has);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
    const latest = await get(port, '/store/latest/results.json');
    expect(latest.status).toBe(200);
    expect(JSON.parse(latest.body).verdict).toBe('invalid');
    const head = await get(port, `${base}/test.json`, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(10);
  });

  it("a run's folder is a listing of its files; symlinks out of the store are left out", async () => {
    const r = await get(port, '/store/cas-register/20260301T100000.000Z/');
    expect(r.status).toBe(200);
    const links = [...r.body.matchAll(/<td><a href="([^"]+)">/g)].map((m) => m[1]);
    expect(links).toEqual(['../', 'harness.log', 'history.jsonl', 'nemesis.jsonl', 'nodes/', 'report.html', 'results.json', 'test.json', 'timeline.png']);
    const nodes = await get(port, '/store/cas-register/20260301T100000.000Z/nodes/n2/');
    expect(nodes.body).toContain('href="n2.log"');
    const top = await get(port, '/store/');
    expect([...top.body.matchAll(/<td><a href="([^"]+)">/g)].map((m) => m[1])).toEqual(['cas-register/', 'cas-register-bug/', 'latest/']);
    // Without the trailing slash: redirected, so relative links work.
    const bare = await get(port, '/store/cas-register');
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe('/store/cas-register/');
  });

  const EVIL: string[] = [
    '/store/../../../../etc/passwd',
    '/store/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/store/%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
    '/store/%252e%252e/%252e%252e/etc/passwd',
    '/..%2f..%2fetc/passwd',
    '/store/..%2f..%2f..%2f..%2fetc/passwd',
    '/store/cas-register/..%5c..%5c..%5cetc%5cpasswd',
    '/store/cas-register/..\\..\\etc\\passwd',
    '/store//etc/passwd',
    '/store/%2fetc%2fpasswd',
    '/etc/passwd',
    '//etc/passwd',
    '/store/./cas-register/20260301T100000.000Z/test.json',
    '/store/cas-register/20260301T100000.000Z/test.json%00.html',
    '/store/cas-register/20260301T100000.000Z/%00',
    '/store/escape/secret.json',
    '/store/escape/',
    '/store/cas-register/20260301T100000.000Z/secret.json',
    '/store/latest/../../secret.json',
    '/store/cas-register/20260301T100000.000Z/test.json/',
    '/store/no-such-run/',
    '/store/%',
    '/store/%e0%a4%a',
    '/store/C:/Windows/win.ini',
    'http://127.0.0.1/store/../../etc/passwd',
    '/api/runs/../../etc/passwd',
    '/report.html',
  ];

  it.each(EVIL)('refuses %s with a plain 404', async (path) => {
    const r = await get(port, path);
    expect(r.status).toBe(404);
    expect(r.body).toBe('not found\n');
    expect(r.body).not.toContain('secret');
  });

  it('answers other methods with 405, never a stack trace', async () => {
    const r = await get(port, '/', 'POST');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
    expect(r.body).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('undertow serve (the built CLI)', () => {
  const undertow = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });

  it('prints its URL, serves the store, and stops cleanly on Ctrl-C', async () => {
    const fx = fixtureStore();
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--store', fx.store], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL within 30 s; stdout: ${out} stderr: ${err}`)), 30_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /at (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const port = Number(new URL(url).port);
      expect(port).toBeGreaterThan(0);
      const index = await get(port, '/');
      expect(index.status).toBe(200);
      expect(index.body).toContain('cas-register-bug');
      const runs = JSON.parse((await get(port, '/api/runs')).body).runs as RunSummary[];
      expect(runs.map((r) => r.verdict)).toEqual(['invalid', 'valid']);
      expect((await get(port, '/store/../../etc/passwd')).status).toBe(404);

      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(out).toContain('undertow: stopped');
      expect(err).toBe('');
      // The port is free again.
      await expect(get(port, '/')).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(fx.store, { recursive: true, force: true });
    }
  });

  it('refuses, in one line with exit 254, a non-loopback host, a bad port, a missing store and a port in use', async () => {
    const store = mkdtempSync(join(tmpdir(), 'undertow-serve-'));
    const busy = createTcpServer();
    try {
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      const busyPort = (busy.address() as { port: number }).port;
      const cases: [string[], string][] = [
        [['--host', '0.0.0.0'], '--host 0.0.0.0 is not a loopback address'],
        [['--host', '192.168.1.10'], 'is not a loopback address'],
        [['--port', '70000'], '--port must be a whole number from 0 to 65535'],
        [['--port', '1.5'], '--port must be a whole number'],
        [['--store', join(store, 'missing')], 'no store at'],
        [['--port', String(busyPort)], `port ${busyPort} on 127.0.0.1 is in use`],
      ];
      for (const [args, message] of cases) {
        const r = undertow('serve', ...(args.includes('--store') ? [] : ['--store', store]), ...args);
        expect(r.status, args.join(' ')).toBe(254);
        expect(r.stderr).toContain(message);
        expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
        expect(r.stdout).toBe('');
      }
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
      rmSync(store, { recursive: true, force: true });
    }
  });
});
