// npm run bench:docker: how long the Docker provider takes to bring a cluster
// up, image already built. 3 CM nodes + 5 data servers (5 groups of 3
// replicas), or 3 CM nodes alone while `undertow-node data` does not exist.
// ROUNDS times: from the `up()` call to (a) a CM node reporting itself leader,
// (b) the first successful CM operation (a `get` through the client library),
// (c) `up()` resolving (cluster ready: a CM leader, and every group with a
// primary and all its secondaries), then the time `teardown()` takes. The
// steps of `up` (network, containers, start) are shown too. Medians, min, max.
//
// Needs a Docker engine (apt-get install -y docker.io && dockerd &). Every
// container and network is removed on the way out, also on error and Ctrl-C.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectEngine } from '../docker/engine.js';
import { imageFor } from '../docker/image.js';
import { REFERENCE_IMAGE, referenceDeployment } from '../adapters/reference/index.js';
import { projectRoot } from '../harness/core/project-root.js';
import { dockerProvider, type DockerCluster } from '../docker/provider.js';
import { median } from '../harness/bench/stats.js';

const ROUNDS = 5;

function hasDataRole(program: string): boolean {
  const r = spawnSync(process.execPath, [program, 'data'], { encoding: 'utf8', timeout: 10_000 });
  return !/unknown role data/.test(r.stderr ?? '');
}

async function main(): Promise<void> {
  const docker = await connectEngine();
  const root = projectRoot();
  const image = await imageFor(docker, { root, project: REFERENCE_IMAGE.project! });
  const withData = hasDataRole(path.join(root, 'dist', 'system-under-test', 'bin', 'undertow-node.js'));
  const spec = { cm: 3, data: withData ? 5 : 0, groups: 5, replication: 3, bugs: [] as string[] };
  const info = (await docker.info()) as { ServerVersion: string; Driver: string; NCPU: number };
  console.log(
    `Docker provider start-up: ${spec.cm} CM${withData ? ` + ${spec.data} data servers (${spec.groups} groups x ${spec.replication})` : ' (no data servers: undertow-node data does not exist yet)'}`,
  );
  console.log(
    `image ${image.tag} (${image.source}${image.source === 'cached' ? '' : `, built in ${(image.ms / 1000).toFixed(1)} s`}); engine ${info.ServerVersion}, ${info.Driver}; ${info.NCPU} CPUs; node ${process.version}; ${ROUNDS} rounds\n`,
  );

  const rows: Record<string, number>[] = [];
  let current: DockerCluster | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'undertow-bench-docker-'));
  const stop = () => {
    void (current?.teardown() ?? Promise.resolve()).finally(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const at: Record<string, number> = {};
      let sum = 0;
      const provider = dockerProvider({
        image: image.tag,
        readyTimeoutMs: 60_000,
        onStep: (name, ms) => {
          sum += ms;
          at[name] = sum;
        },
      });
      const runDir = path.join(dir, `r${i}`);
      const t0 = performance.now();
      current = await provider.up({ deployment: referenceDeployment(spec), runDir, runId: `bench${process.pid.toString(36)}${i}` });
      const up = performance.now() - t0;
      const t1 = performance.now();
      await current.teardown();
      current = undefined;
      rows.push({ ...at, up, teardown: performance.now() - t1 });
    }
  } finally {
    await current?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const cols: [string, string][] = [
    ['network', 'network created'],
    ['containers', 'containers created'],
    ['start', 'containers started'],
    ['ready', 'the system says ready'],
    ['up', 'cluster ready (up resolved)'],
    ['teardown', 'teardown'],
  ];
  const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`.padStart(9);
  console.log(`${'from the up() call to'.padEnd(30)} ${'median'.padStart(9)} ${'min'.padStart(9)} ${'max'.padStart(9)}`);
  for (const [key, label] of cols) {
    const xs = rows.map((r) => r[key]).filter((x) => x !== undefined);
    if (xs.length === 0) continue;
    console.log(`${(key === 'teardown' ? `${label} (alone)` : label).padEnd(30)} ${fmt(median(xs))} ${fmt(Math.min(...xs))} ${fmt(Math.max(...xs))}`);
  }
  const ready = median(rows.map((r) => r.up));
  console.log(`\ntarget: cluster ready <= 5 s: ${ready <= 5000 ? 'met' : 'NOT met'} (median ${(ready / 1000).toFixed(2)} s)`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:docker: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof Error && e.name === 'InputError' ? 254 : 255);
  },
);
