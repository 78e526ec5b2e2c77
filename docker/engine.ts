// The Docker engine as the provider sees it: one dockerode client, a ping that
// turns "no engine" into one line the user can act on, and the labels that
// mark everything of ours (containers and networks) so that a later run, or
// `undertow cluster down`, can find and remove it.

import * as fs from 'node:fs';
import Docker from 'dockerode';
import { InputError } from '../history/input-error.js';
import { processAlive } from '../harness/core/process.js';

/** Labels on every container and network we create. */
export const LABEL = {
  /** The run's id: everything of one run carries the same value. */
  run: 'undertow.run',
  /** The node's name (n1, d1, ...), on containers only. */
  node: 'undertow.node',
  /** Who keeps the run alive: `PID:STARTTIME` of the harness, or `detached` for `undertow cluster up`. */
  owner: 'undertow.owner',
  /** The run's folder on the host (node logs and data live there). */
  runDir: 'undertow.rundir',
} as const;

/** The owner label of a cluster started by `undertow cluster up`, which outlives its command. */
export const DETACHED = 'detached';

/** How to get an engine on this kind of machine; part of every "no engine" message. */
export const START_ENGINE_HINT = 'start one: apt-get install -y docker.io && dockerd > /tmp/dockerd.log 2>&1 &';

/** No Docker engine answers: bad input in Jepsen's sense (exit 254), not a harness failure. */
export class NoEngineError extends InputError {}

function engineAddress(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

/**
 * A client of the engine that answered a ping within `timeoutMs`, or a
 * NoEngineError saying how to start one.
 */
export async function connectEngine(timeoutMs = 5000): Promise<Docker> {
  const docker = new Docker();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new NoEngineError(`no Docker engine reachable at ${engineAddress()} (${why})`, {}, START_ENGINE_HINT);
  } finally {
    clearTimeout(timer);
  }
  return docker;
}

/** Is an engine reachable? (for tests and for deciding whether to start one). */
export async function engineReachable(timeoutMs = 2000): Promise<boolean> {
  try {
    await connectEngine(timeoutMs);
    return true;
  } catch {
    return false;
  }
}

// A pid alone is reused by the kernel; the pair (pid, start time in clock
// ticks since boot, field 22 of /proc/PID/stat) names one process for good.
function startTicks(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** The owner label for this process. */
export function ownerToken(pid: number = process.pid): string {
  return `${pid}:${startTicks(pid) ?? '?'}`;
}

/**
 * Is the run whose owner label is `token` still alive? Detached clusters are
 * alive until `undertow cluster down`; an unreadable label counts as alive
 * (never remove what might be someone else's).
 */
export function ownerAlive(token: string | undefined): boolean {
  if (token === undefined || token === DETACHED) return true;
  const m = /^(\d+):(\d+|\?)$/.exec(token);
  if (m === null) return true;
  const pid = Number(m[1]);
  if (!processAlive(pid)) return false;
  return m[2] === '?' || startTicks(pid) === m[2];
}

/** Removes a container, ignoring "already gone". */
export async function removeContainer(docker: Docker, id: string): Promise<void> {
  try {
    await docker.getContainer(id).remove({ force: true, v: true });
  } catch (e) {
    if (!isGone(e)) throw e;
  }
}

/** Removes a network, ignoring "already gone". */
export async function removeNetwork(docker: Docker, id: string): Promise<void> {
  try {
    await docker.getNetwork(id).remove();
  } catch (e) {
    if (!isGone(e)) throw e;
  }
}

/** Engine errors that mean "that object no longer exists" (or is being removed already). */
export function isGone(e: unknown): boolean {
  const status = (e as { statusCode?: number }).statusCode;
  if (status === 404) return true;
  return status === 409 && /removal .* in progress|is already in progress/.test(String((e as Error).message));
}

/**
 * Removes every container and network labeled with one of `runIds` (all of
 * ours when `runIds` is 'all'). Containers first: a network with endpoints
 * cannot be removed.
 */
export async function removeRuns(docker: Docker, runIds: readonly string[] | 'all'): Promise<{ containers: number; networks: number }> {
  // Several values in one label filter mean "all of them at once": list everything of ours and pick here.
  const filters = { label: [LABEL.run] };
  const pick = <T extends { Labels?: Record<string, string> | null }>(xs: T[]): T[] =>
    runIds === 'all' ? xs : xs.filter((x) => runIds.includes(x.Labels?.[LABEL.run] ?? ''));
  const containers = pick(await docker.listContainers({ all: true, filters }));
  await Promise.all(containers.map((c) => removeContainer(docker, c.Id)));
  const networks = pick(await docker.listNetworks({ filters }));
  await Promise.all(networks.map((n) => removeNetwork(docker, n.Id)));
  return { containers: containers.length, networks: networks.length };
}

/** The run ids of ours whose owner is dead (their leftovers are safe to remove). */
export async function deadRuns(docker: Docker): Promise<string[]> {
  const owners = new Map<string, string | undefined>();
  const filters = { label: [LABEL.run] };
  for (const c of await docker.listContainers({ all: true, filters })) owners.set(c.Labels[LABEL.run], c.Labels[LABEL.owner]);
  for (const n of await docker.listNetworks({ filters })) {
    const labels = n.Labels ?? {};
    if (!owners.has(labels[LABEL.run])) owners.set(labels[LABEL.run], labels[LABEL.owner]);
  }
  return [...owners].filter(([, owner]) => !ownerAlive(owner)).map(([run]) => run);
}
