// The reaper's process (see reaper.ts): `node reaper-main.js HARNESS_PID`,
// stdin a pipe from the harness carrying a JSON ReaperLine a run.

import { processAlive as alive } from '../core/process.js';
import type { Provider } from '../core/provider.js';
import { processesOf } from '../providers/local.js';
import type { ReaperLine } from './reaper.js';
import { PROVIDERS } from './test-flags.js';

const harnessPid = Number(process.argv[2]);
// Each provider is made (its modules loaded, its engine connected) when the harness first names it,
// not when the harness dies: that work would otherwise come out of the 10 s budget, and a loaded machine makes it slow.
const providers = new Map<string, Promise<Provider | null>>();
const runDirs = new Set<string>();
let buffered = '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function reap(): Promise<void> {
  // The pipe closes as the harness exits; its pid may linger a moment (a zombie is still "alive" to kill 0).
  for (let i = 0; i < 20 && alive(harnessPid); i++) await sleep(50);
  if (!alive(harnessPid)) {
    for (const dir of runDirs) {
      for (const pid of processesOf(dir)) {
        try {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
  }
  for (const round of [0, 1]) {
    if (round === 1) await sleep(2000);
    for (const [name, made] of providers) {
      try {
        // Made at the first line; if the engine could not be reached then, it may be now.
        await ((await made) ?? (await PROVIDERS[name]()))?.cleanupLeftovers();
      } catch {
        // The engine is gone too, or the rules cannot be read: nothing more this process can do.
      }
    }
  }
  process.exit(0);
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  const lines = buffered.split('\n');
  buffered = lines.pop() ?? '';
  for (const l of lines) {
    try {
      const { provider, runDir } = JSON.parse(l) as ReaperLine;
      const make = PROVIDERS[provider];
      if (make !== undefined && !providers.has(provider))
        providers.set(
          provider,
          make().catch(() => null),
        );
      if (runDir.length > 1) runDirs.add(runDir);
    } catch {
      // not a line of ours
    }
  }
});
process.stdin.on('end', () => void reap());
process.stdin.on('error', () => void reap());
