// What of one run is still on the machine: its node processes, its iptables
// chains, its containers and networks. Empty after every run, Ctrl-C or
// crash (the reaper's job for a harness that died); the tests and the
// interruption benchmark (bench/interrupt.ts) check it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chainName, hostNetfilter, leftoverChains } from '../../nemesis/iptables.js';
import { processesOf } from '../providers/local.js';

export { processesOf };

export interface Leftovers {
  processes: number[];
  chains: string[];
  containers: string[];
  networks: string[];
}

/** The leftovers of the run in `runDir` (its test.json names its run id). */
export async function leftoversOf(runDir: string): Promise<Leftovers> {
  const runId = (JSON.parse(readFileSync(join(runDir, 'test.json'), 'utf8')) as { runId: string }).runId;
  const ours = new Set([chainName(runId), chainName(`${runId}-m`)]);
  let chains: string[] = [];
  if (process.getuid?.() === 0) {
    try {
      chains = (await leftoverChains(hostNetfilter())).filter((c) => ours.has(c));
    } catch {
      // no iptables here: no chains of ours either
    }
  }
  let containers: string[] = [];
  let networks: string[] = [];
  try {
    const { connectEngine, LABEL } = await import('../../docker/engine.js');
    const docker = await connectEngine();
    const filters = { label: [`${LABEL.run}=${runId}`] };
    containers = (await docker.listContainers({ all: true, filters })).map((c) => c.Names[0] ?? c.Id);
    networks = (await docker.listNetworks({ filters })).map((n) => n.Name);
  } catch {
    // no engine: no containers of ours either
  }
  return { processes: processesOf(runDir), chains, containers, networks };
}

export const nothingLeft = (l: Leftovers): boolean => l.processes.length + l.chains.length + l.containers.length + l.networks.length === 0;
