// The reference-cluster node program (`undertow-node`, launched by bin/undertow-node.ts):
//
//   undertow-node cm --id n1 --listen 127.0.0.1:7001 \
//       --peers n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003 --data DIR \
//       [--join] [--tick-ms 50] [--election-ticks 10] [--heartbeat-ticks 2] [--bug NAME]...
//   undertow-node cm --config FILE.json        (the same keys, camelCase, in a JSON object)
//   undertow-node data --id d1 --listen 127.0.0.1:8001 --cm ADDR,ADDR,... --data DIR \
//       --servers d1,d2,d3 --groups N --replication R [--lease-ms 1000] [--grace-ms 1500]
//       [--beacon-ms 200] [--tick-ms 20] [--poll-ms 150] [--checkpoint-every 5000] [--no-fsync] [--bug NAME]...
//   undertow-node admin --cm ADDR[,ADDR...] status | get [GROUP] | add-member ID ADDR
//       | remove-member ID | register-server ID ADDR | create-groups JSON
//       | reconfigure GROUP EXPECTED_VERSION JSON
//
// Logs are pino JSON lines on stdout. Exit codes: 0 ok; 1 the request failed
// (admin); 70 the node stopped on a violated invariant; 254 bad arguments.

import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import pino, { type Logger } from 'pino';
import { CM_BUGS } from '../cm/state.js';
import { PACIFICA_BUGS } from '../pacifica/types.js';
import { RAFT_BUGS } from '../raft/node.js';
import { CmClient, type CmRequest } from './client.js';
import { CmServer, type CmServerOptions } from './cm-server.js';
import { DataServer, type DataServerOptions } from './data-server.js';
import { parseAddress } from './transport.js';

export class UsageError extends Error {}

const KNOWN_BUGS = new Set<string>([...RAFT_BUGS, ...CM_BUGS]);

const KNOWN_DATA_BUGS = new Set<string>(PACIFICA_BUGS);

const USAGE = [
  'usage: undertow-node cm --id ID --listen HOST:PORT --peers ID=HOST:PORT,... --data DIR [--join] [--bug NAME]',
  '     | undertow-node data --id ID --listen HOST:PORT --cm ADDR,... --data DIR --servers ID,... --groups N --replication R',
  '           [--lease-ms 1000] [--grace-ms 1500] [--beacon-ms 200] [--tick-ms 20] [--no-fsync] [--bug NAME]',
  '     | undertow-node admin --cm ADDR[,ADDR] COMMAND ...',
].join('\n');

function int(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

function peersOf(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(',').filter((p) => p.trim() !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`bad peer ${JSON.stringify(part)} in --peers (want ID=HOST:PORT)`);
    const id = part.slice(0, eq).trim();
    const addr = part.slice(eq + 1).trim();
    parseAddressOrThrow(addr, '--peers');
    out[id] = addr;
  }
  return out;
}

function parseAddressOrThrow(addr: string, flag: string): void {
  try {
    parseAddress(addr);
  } catch (e) {
    throw new UsageError(`${flag}: ${(e as Error).message}`);
  }
}

/** Parse `cm` arguments into server options (exported for tests). */
export function parseCmArgs(argv: readonly string[]): CmServerOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      id: { type: 'string' },
      listen: { type: 'string' },
      peers: { type: 'string' },
      data: { type: 'string' },
      join: { type: 'boolean' },
      'tick-ms': { type: 'string' },
      'election-ticks': { type: 'string' },
      'heartbeat-ticks': { type: 'string' },
      'compact-every': { type: 'string' },
      bug: { type: 'string', multiple: true },
      config: { type: 'string' },
    },
    strict: true,
  });
  let v: Record<string, unknown> = { ...values };
  if (values.config !== undefined) {
    let file: Record<string, unknown>;
    try {
      file = JSON.parse(fs.readFileSync(values.config, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`--config ${values.config}: ${(e as Error).message}`);
    }
    const kebab = Object.fromEntries(
      Object.entries(file).map(([k, x]) => [k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), typeof x === 'number' ? String(x) : x]),
    );
    if (typeof kebab.peers === 'object' && kebab.peers !== null)
      kebab.peers = Object.entries(kebab.peers)
        .map(([k, a]) => `${k}=${String(a)}`)
        .join(',');
    v = { ...kebab, ...Object.fromEntries(Object.entries(values).filter(([k]) => k !== 'config')) };
  }
  for (const req of ['id', 'listen', 'peers', 'data']) {
    if (typeof v[req] !== 'string' || v[req] === '') throw new UsageError(`missing --${req}`);
  }
  parseAddressOrThrow(v.listen as string, '--listen');
  const peers = peersOf(v.peers as string);
  const id = v.id as string;
  const join = v.join === true;
  if (!join && peers[id] === undefined) throw new UsageError(`--peers must include this node (${id}) unless --join is given`);
  const bugs = new Set<string>((v.bug as string[] | undefined) ?? []);
  for (const b of bugs) if (!KNOWN_BUGS.has(b)) throw new UsageError(`unknown --bug ${b} (known: ${[...KNOWN_BUGS].join(', ')})`);
  const electionTicks = int('election-ticks', v['election-ticks'] as string | undefined, 10, 2);
  const heartbeatTicks = int('heartbeat-ticks', v['heartbeat-ticks'] as string | undefined, 2, 1);
  if (heartbeatTicks >= electionTicks) throw new UsageError('--heartbeat-ticks must be below --election-ticks');
  return {
    id,
    listen: v.listen as string,
    peers,
    dataDir: v.data as string,
    join,
    tickMs: int('tick-ms', v['tick-ms'] as string | undefined, 50, 1),
    electionTicks,
    heartbeatTicks,
    compactEvery: int('compact-every', v['compact-every'] as string | undefined, 1000, 1),
    bugs,
  };
}

/** Parse `data` arguments into server options (exported for tests). */
export function parseDataArgs(argv: readonly string[]): Omit<DataServerOptions, 'logger' | 'onFatal' | 'openStore'> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      id: { type: 'string' },
      listen: { type: 'string' },
      cm: { type: 'string' },
      data: { type: 'string' },
      servers: { type: 'string' },
      groups: { type: 'string' },
      replication: { type: 'string' },
      'lease-ms': { type: 'string' },
      'grace-ms': { type: 'string' },
      'beacon-ms': { type: 'string' },
      'tick-ms': { type: 'string' },
      'poll-ms': { type: 'string' },
      'checkpoint-every': { type: 'string' },
      'no-fsync': { type: 'boolean' },
      bug: { type: 'string', multiple: true },
    },
    strict: true,
  });
  for (const req of ['id', 'listen', 'cm', 'data', 'servers', 'groups', 'replication'] as const) {
    if (values[req] === undefined || values[req] === '') throw new UsageError(`missing --${req}`);
  }
  parseAddressOrThrow(values.listen!, '--listen');
  const list = (s: string): string[] =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  const cm = list(values.cm!);
  for (const a of cm) parseAddressOrThrow(a, '--cm');
  const servers = list(values.servers!);
  if (new Set(servers).size !== servers.length) throw new UsageError('--servers lists a server twice');
  const id = values.id!;
  if (!servers.includes(id)) throw new UsageError(`--servers must include this server (${id})`);
  const groups = int('groups', values.groups, 1, 1);
  const replication = int('replication', values.replication, 1, 1);
  if (replication > servers.length) throw new UsageError(`--replication ${replication} exceeds the ${servers.length} servers of --servers`);
  const leaseMs = int('lease-ms', values['lease-ms'], 1000, 2);
  const graceMs = int('grace-ms', values['grace-ms'], Math.max(1500, leaseMs), 1);
  const beaconMs = int('beacon-ms', values['beacon-ms'], Math.min(200, Math.floor(leaseMs / 4) || 1), 1);
  if (graceMs < leaseMs)
    throw new UsageError(`--grace-ms ${graceMs} must be >= --lease-ms ${leaseMs} (a secondary must not replace a primary whose lease may be valid)`);
  if (beaconMs >= leaseMs) throw new UsageError(`--beacon-ms ${beaconMs} must be below --lease-ms ${leaseMs}`);
  const bugs = new Set<string>(values.bug ?? []);
  for (const b of bugs) if (!KNOWN_DATA_BUGS.has(b)) throw new UsageError(`unknown --bug ${b} (known for data servers: ${[...KNOWN_DATA_BUGS].join(', ')})`);
  return {
    id,
    listen: values.listen!,
    cm,
    dataDir: values.data!,
    servers,
    groups,
    replication,
    leaseMs,
    graceMs,
    beaconMs,
    tickMs: int('tick-ms', values['tick-ms'], 20, 1),
    pollMs: int('poll-ms', values['poll-ms'], 150, 10),
    checkpointEvery: int('checkpoint-every', values['checkpoint-every'], 5000, 1),
    fsync: values['no-fsync'] !== true,
    bugs,
  };
}

/** Parse `admin` arguments into the CM addresses and one request (exported for tests). */
export function parseAdminArgs(argv: readonly string[]): { addresses: string[]; request: CmRequest } {
  const { values, positionals } = parseArgs({ args: [...argv], options: { cm: { type: 'string' } }, allowPositionals: true, strict: true });
  if (values.cm === undefined) throw new UsageError('missing --cm ADDR[,ADDR...]');
  const addresses = values.cm
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  for (const a of addresses) parseAddressOrThrow(a, '--cm');
  const [cmd, ...rest] = positionals;
  const json = (s: string | undefined, what: string): unknown => {
    try {
      return JSON.parse(s ?? '');
    } catch {
      throw new UsageError(`${cmd}: ${what} must be JSON`);
    }
  };
  const arity = (n: number): void => {
    if (rest.length !== n) throw new UsageError(`${cmd} takes ${n} argument(s), got ${rest.length}`);
  };
  let request: CmRequest;
  switch (cmd) {
    case 'status':
      arity(0);
      request = { op: 'status' };
      break;
    case 'get':
      if (rest.length > 1) throw new UsageError('get takes at most one argument (GROUP)');
      request = rest.length === 1 ? { op: 'get', group: rest[0] } : { op: 'get' };
      break;
    case 'add-member':
      arity(2);
      parseAddressOrThrow(rest[1], 'add-member');
      request = { op: 'addMember', id: rest[0], address: rest[1] };
      break;
    case 'remove-member':
      arity(1);
      request = { op: 'removeMember', id: rest[0] };
      break;
    case 'register-server':
      arity(2);
      request = { op: 'registerServer', id: rest[0], address: rest[1] };
      break;
    case 'create-groups':
      arity(1);
      request = { op: 'createGroups', groups: json(rest[0], 'GROUPS') as Record<string, { primary: string; secondaries: string[] }> };
      break;
    case 'reconfigure': {
      arity(3);
      const expectedVersion = Number(rest[1]);
      if (!Number.isSafeInteger(expectedVersion)) throw new UsageError('reconfigure: EXPECTED_VERSION must be an integer');
      request = { op: 'reconfigure', group: rest[0], expectedVersion, config: json(rest[2], 'CONFIG') as { primary: string; secondaries: string[] } };
      break;
    }
    default:
      throw new UsageError(cmd === undefined ? 'missing admin command' : `unknown admin command ${cmd}`);
  }
  return { addresses, request };
}

/** Starts a node with its own logger; a failure to start is one line; SIGTERM/SIGINT stop it cleanly. */
async function runNode<O extends { id: string }>(
  opts: O,
  start: (o: O & { logger: Logger; onFatal: () => void }) => Promise<{ stop(): Promise<void> }>,
): Promise<void> {
  const logger = pino({ base: { node: opts.id } });
  let server: { stop(): Promise<void> };
  try {
    server = await start({ ...opts, logger, onFatal: () => process.exit(70) });
  } catch (e) {
    throw new UsageError(`cannot start: ${(e as Error).message}`);
  }
  const shutdown = (): void => {
    void server.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

const runCm = (argv: readonly string[]) => runNode(parseCmArgs(argv), (o) => CmServer.start(o));
const runData = (argv: readonly string[]) => runNode(parseDataArgs(argv), (o) => DataServer.start(o));

async function runAdmin(argv: readonly string[]): Promise<number> {
  const { addresses, request } = parseAdminArgs(argv);
  const client = new CmClient(addresses, { timeoutMs: 5000 });
  try {
    const r = await client.request(request);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return r.ok ? 0 : 1;
  } finally {
    client.close();
  }
}

export async function main(argv: readonly string[]): Promise<number | null> {
  const [role, ...rest] = argv;
  try {
    if (role === 'cm') {
      await runCm(rest);
      return null; // keeps running
    }
    if (role === 'data') {
      await runData(rest);
      return null; // keeps running
    }
    if (role === 'admin') return await runAdmin(rest);
    throw new UsageError(role === undefined ? 'missing role' : `unknown role ${role}`);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`undertow-node: ${e.message}\n${USAGE}\n`);
      return 254;
    }
    throw e;
  }
}

/** Run as a program: exit with main's code (a `cm` or `data` node keeps running until signalled). */
export function run(argv: readonly string[]): void {
  main(argv).then(
    (code) => {
      if (code !== null) process.exit(code);
    },
    (e: unknown) => {
      process.stderr.write(`undertow-node: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(255);
    },
  );
}
