// The Docker engine for the Docker tests: the one that runs, or one we start
// (root, dockerd installed) and stop again at the end. A test that needs
// Docker skips only when neither works, and says why.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { engineReachable } from '../../docker/engine.js';

export interface TestEngine {
  /** Why there is no engine (null: there is one). */
  readonly missing: string | null;
  /** Stops the engine if we started it. */
  stop(): Promise<void>;
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export async function testEngine(): Promise<TestEngine> {
  if (await engineReachable()) return { missing: null, stop: async () => undefined };
  if (process.getuid?.() !== 0) return { missing: 'no Docker engine runs and this is not root, so none can be started', stop: async () => undefined };
  if (!onPath('dockerd')) return { missing: 'no Docker engine runs and dockerd is not installed (apt-get install -y docker.io)', stop: async () => undefined };
  const log = fs.openSync('/tmp/undertow-test-dockerd.log', 'a');
  const child: ChildProcess = spawn('dockerd', [], { stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  child.on('error', () => undefined);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  for (let i = 0; i < 60; i++) {
    if (await engineReachable(1000)) return { missing: null, stop };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await stop();
  return { missing: 'dockerd could not be started here (see /tmp/undertow-test-dockerd.log)', stop: async () => undefined };
}

/** Does the built undertow-node have the `data` role yet? */
export function hasDataRole(program: string): boolean {
  const r = spawnSync(process.execPath, [program, 'data'], { encoding: 'utf8', timeout: 10_000 });
  return !/unknown role data/.test(r.stderr ?? '');
}

/** Containers and networks labelled with this run's folder: empty after every run. */
export function dockerLeftovers(run: string): string[] {
  const ps = spawnSync('docker', ['ps', '-aq', '--filter', `label=undertow.rundir=${run}`], { encoding: 'utf8' }).stdout.trim();
  const nets = spawnSync('docker', ['network', 'ls', '-q', '--filter', `label=undertow.rundir=${run}`], { encoding: 'utf8' }).stdout.trim();
  return [...ps.split('\n'), ...nets.split('\n')].filter(Boolean);
}
