// Data plane end to end (real processes): kill -9 every process (CM and data
// servers) while clients write, restart them all from their directories, and
// find every acknowledged update.

import { describe, expect, it } from 'vitest';
import type { KvClient, KvOutcome } from '../../../system-under-test/client/index.js';
import { eventually, fullyReplicated, kvCluster } from './kv-cluster.js';

describe('undertow-node data: crash recovery', () => {
  it('kill -9 everything mid-load and restart: every acknowledged write and append is there', async () => {
    const c = await kvCluster();
    const setup = c.client({ timeoutMs: 3000 });
    await eventually('a first write', () => setup.write('warm', 0), 30_000);
    await fullyReplicated(c, 3, 20_000);

    // Writer w owns key `w${w}` (writes 1, 2, 3, ... in order) and appends to `l${w % 2}`.
    const lastAcked = new Map<string, number>();
    const appended = new Map<string, number[]>();
    let stop = false;
    const writer = async (w: number, kv: KvClient): Promise<void> => {
      for (let n = 1; !stop; n++) {
        const r: KvOutcome = n % 2 === 0 ? await kv.write(`w${w}`, n) : await kv.append(`l${w % 2}`, w * 100_000 + n);
        if (r.type !== 'ok') continue;
        if (n % 2 === 0) lastAcked.set(`w${w}`, n);
        else appended.set(`l${w % 2}`, [...(appended.get(`l${w % 2}`) ?? []), w * 100_000 + n]);
      }
    };
    const writers = Array.from({ length: 6 }, (_, w) => writer(w, c.client({ timeoutMs: 1000 })));
    await eventually('some acknowledged writes', async () => ({ type: lastAcked.size >= 6 ? 'ok' : 'wait' }), 20_000);
    await new Promise((r) => setTimeout(r, 500));

    // Everything at once: data servers and the CM.
    await Promise.all([...c.dataIds.map((id) => c.killData(id)), ...c.cm.ids.map((id) => c.cm.kill(id))]);
    stop = true;
    await Promise.all(writers);
    const acked = [...appended.values()].reduce((n, l) => n + l.length, 0) + lastAcked.size;
    expect(acked).toBeGreaterThan(6);

    for (const id of c.cm.ids) c.cm.start(id);
    for (const id of c.dataIds) c.startData(id);
    const kv = c.client({ timeoutMs: 3000 });
    for (const [key, n] of lastAcked) {
      const r = await eventually(`read ${key}`, () => kv.read(key), 60_000);
      expect(r.type === 'ok' && typeof r.value === 'number' && r.value >= n, `${key}: acknowledged ${n}, read ${JSON.stringify(r)}`).toBe(true);
    }
    for (const [key, values] of appended) {
      const r = await eventually(`read ${key}`, () => kv.read(key), 30_000);
      const list = r.type === 'ok' && Array.isArray(r.value) ? r.value : [];
      const missing = values.filter((v) => !list.includes(v));
      expect(missing, `${key}: acknowledged appends missing after the restart`).toEqual([]);
    }
    // And the cluster takes writes again.
    expect(await eventually('a write after the restart', () => kv.write('after', 1), 20_000)).toEqual({ type: 'ok' });
  }, 150_000);
});
