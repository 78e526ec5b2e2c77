// What the tests need from the machine, provided once before they run, so
// that `npm ci && npm test` works on a fresh Debian machine (as root): Chromium
// for the browser tests, iptables for partitions, etcd (the second system),
// libfaketime for clock
// faults, and a running Docker engine for the Docker provider's tests.
// Missing packages are installed with apt; a Docker engine we start here is
// stopped again when the tests end. Not root, or no apt: nothing is
// installed, and the tests that need a missing piece say what is missing.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readdirSync } from 'node:fs';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const faketimeInstalled = () => readdirSync('/usr/lib').some((d) => d.endsWith('-linux-gnu') && existsSync(`/usr/lib/${d}/faketime/libfaketime.so.1`));
const engineUp = () => spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dockerd: ChildProcess | undefined;

function install(): void {
  const missing = [
    ...(existsSync('/usr/bin/chromium') ? [] : ['chromium']),
    ...(has('iptables') ? [] : ['iptables']),
    ...(faketimeInstalled() ? [] : ['faketime']),
    ...(has('dockerd') ? [] : ['docker.io']),
    // etcd, the second system under test (Debian's 3.4).
    ...(existsSync('/usr/bin/etcd') ? [] : ['etcd-server']),
    ...(existsSync('/usr/bin/etcdctl') ? [] : ['etcd-client']),
    // xmllint validates the campaigns' junit.xml against test/fixtures/junit.xsd.
    ...(has('xmllint') ? [] : ['libxml2-utils']),
    // The power fault's shim is built with the machine's C compiler; packet faults use tc.
    ...(has('gcc') && existsSync('/usr/include/stdio.h') ? [] : ['gcc', 'libc6-dev']),
    ...(has('tc') ? [] : ['iproute2']),
  ];
  if (missing.length === 0 || process.getuid?.() !== 0 || !has('apt-get')) return;
  console.log(`test setup: installing ${missing.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (r.status !== 0) console.log(`test setup: apt-get install ${missing.join(' ')} failed (exit ${r.status})`);
}

async function startEngine(): Promise<void> {
  if (process.getuid?.() !== 0 || !has('dockerd') || engineUp()) return;
  // Default flags first; the vfs storage driver works where overlay cannot (docs/docker.md).
  for (const flags of [[], ['--storage-driver=vfs']]) {
    const log = openSync('/tmp/undertow-test-dockerd.log', 'a');
    const child = spawn('dockerd', flags, { stdio: ['ignore', log, log], detached: true });
    child.unref(); // the engine must not keep the test runner alive; teardown stops it
    for (let i = 0; i < 60 && child.exitCode === null; i++) {
      if (engineUp()) {
        dockerd = child;
        console.log(`test setup: started dockerd ${flags.join(' ') || '(default flags)'}; it is stopped when the tests end`);
        return;
      }
      await sleep(500);
    }
    child.kill('SIGTERM');
  }
  console.log('test setup: dockerd did not start (see /tmp/undertow-test-dockerd.log)');
}

export async function setup(): Promise<void> {
  install();
  await startEngine();
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function teardown(): Promise<void> {
  const pid = dockerd?.pid;
  if (pid === undefined || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 80 && alive(pid); i++) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}
