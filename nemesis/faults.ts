// The nemesis of a test: fault ops (as in the history) carried out on a
// cluster through the provider interface. Each kind of fault is a start op
// and a stop op; `heal-all` ends whatever is in force, before the final
// quiet phase and the final reads.
//
//   kill  {random|primary|leader}  / start    kill -9, then restart on the same data
//   corrupt {target, how: bitflip|truncate} / start   kill -9, flip bits in or cut the tail off one of its data files, restart
//                                      (on a minority of each role's nodes in a run: past it, a node already damaged)
//   pause {random|primary|leader}  / resume   SIGSTOP (freezer), then SIGCONT
//   power-off {random|primary|leader} / power-on   kill -9, every write the node had not made
//                                      durable dropped (nemesis/power.ts), then restart
//   clock-bump {nodes, deltaMs}, clock-strobe {...} / clock-reset   libfaketime offsets per node
//   partition {halves|one|follower|primary|primary-alone|secondary|ring|bridge} / heal   iptables
//   member-remove TARGET / member-add TARGET   the system's own membership changes
//   packet {nodes|target, netem} / packet-clear   tc netem and a rate limit on the nodes' outgoing packets
//
// Roles (the leader, a group's primary and secondaries) come from the
// system's view, the membership changes from its adapter: the nemesis knows
// no system. The op's completion value says exactly what was done (the
// nodes, the grudge), so the history alone explains a run.

import type { Invocation } from '../harness/core/generator/index.js';
import { Random } from '../harness/core/generator/random.js';
import type { Cluster, Grudge } from '../harness/core/provider.js';
import type { GroupRoles, MembershipFaults, MembershipContext, SystemView } from '../harness/core/system.js';
import type { Nemesis } from '../harness/core/client.js';
import type { Value } from '../history/types.js';
import { corruptData, corruptFiles, CORRUPTIONS, type Corruption } from './corrupt.js';
import { bridge, isolateFromPeers, isolateOne, majoritiesRing, randomHalves } from './grudge.js';
import { checkNetem, describeNetem, type Netem } from './packet.js';

export const FAULT_KINDS = ['kill', 'pause', 'clock', 'partition', 'member', 'corrupt', 'power', 'packet'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Whom kill, pause and power aim at: any node, a group's primary, the node that leads the cluster, or
 * every node at once (`all`, not drawn unless asked for with --targets: a whole cluster losing power).
 */
export type Target = 'random' | 'primary' | 'leader' | 'all';
/** The targets drawn by default. */
export const TARGETS: readonly Target[] = ['random', 'primary', 'leader'];
/** Every target --targets takes. */
export const ALL_TARGETS: readonly Target[] = [...TARGETS, 'all'];
export const PARTITIONS = ['halves', 'one', 'follower', 'primary', 'primary-alone', 'secondary', 'ring', 'bridge'] as const;
export type PartitionShape = (typeof PARTITIONS)[number];

export interface FaultsOptions {
  cluster: Cluster;
  view: SystemView;
  /** The system's membership changes, when it has them (the `member` fault). */
  membership?: (ctx: MembershipContext) => MembershipFaults;
  /** The roles a `random` target and the partitions pick from (default: every node). */
  faultRoles?: readonly string[];
  seed: number;
  /** Called with every fault's description, for the log and the progress line. */
  log?: (what: string, value: unknown) => void;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      r();
    });
  });

export function faultsNemesis(o: FaultsOptions): Nemesis {
  const { cluster, view } = o;
  const random = Random.seeded(o.seed);
  const names = cluster.nodes.filter((n) => o.faultRoles === undefined || o.faultRoles.includes(n.role)).map((n) => n.name);
  const killed = new Set<string>();
  const paused = new Set<string>();
  /** Nodes off by a power failure: power-on brings them back (start does not, nor power-on a killed one). */
  const powered = new Set<string>();
  const skewed = new Set<string>();
  let strobing: AbortController | undefined;
  let strobeDone: Promise<void> = Promise.resolve();
  let partitioned = false;
  /** A packet fault is in force; `packetUsed`: this run had one (heal-all then says what it cleared). */
  let packeted = false;
  let packetUsed = false;

  const pick = <T>(xs: readonly T[]): T => xs[random.int(xs.length)];

  /** The groups' configurations as the system last told them (null: never). */
  let lastGroups: readonly GroupRoles[] | null = null;
  /** The groups now, or null when the system cannot say; what it says is kept as `lastGroups`. */
  const groupsNow = async (): Promise<readonly GroupRoles[] | null> => {
    const groups = await view.groups().catch(() => null);
    if (groups !== null) lastGroups = groups;
    return groups;
  };
  /** Nodes a corrupt fault damaged in this run: at most a minority of each role's nodes (see `corrupt`). */
  const damaged = new Set<string>();
  const roleOf = (node: string): string => cluster.nodes.find((n) => n.name === node)?.role ?? '';
  /** Nodes lost for the run on `node`'s role: damaged ones, and those a membership change holds out. */
  const lostOfRole = (node: string): string[] => {
    const role = roleOf(node);
    return [...new Set([...damaged, ...(members?.removed.keys() ?? [])])].filter((n) => roleOf(n) === role).sort();
  };
  const countOfRole = (node: string): number => cluster.nodes.filter((n) => n.role === roleOf(node)).length;
  /** With `more` nodes of `node`'s role lost besides those lost now, are the lost still a minority of the role? */
  const minorityWith = (node: string, more: number): boolean => (lostOfRole(node).length + more) * 2 < countOfRole(node);
  /**
   * The groups for which `node` holds the only undamaged copy in the configuration (primary and
   * secondaries): a configuration can shrink to one replica (PacificA's can), and damage there is
   * the group's data gone, whatever the count of nodes says.
   */
  const soleCopies = (node: string, groups: readonly GroupRoles[]): string[] =>
    groups
      .filter((g) => {
        const members = [g.primary, ...g.secondaries].filter((n) => n !== '');
        return members.includes(node) && members.every((n) => n === node || damaged.has(n));
      })
      .map((g) => g.group)
      .sort();

  // Membership faults: nodes taken out stay out of the other faults' reach (and the other way round),
  // so that no restart by another fault brings back a node the CM no longer counts.
  const members: MembershipFaults | undefined = o.membership?.({ cluster, view, pick, busy: () => new Set([...killed, ...paused, ...powered]) });
  let membershipChanged = false;

  /** Every node a fault may take now (for the target `all`): those no other fault holds. */
  const everyFree = (held: ReadonlySet<string>): string[] => names.filter((n) => !held.has(n) && !(members?.removed.has(n) ?? false));

  /** The node a target names right now; null when the cluster cannot say (e.g. no CM leader). */
  const resolveTarget = async (target: Target, held: ReadonlySet<string>): Promise<string | null> => {
    const except = new Set([...held, ...(members?.removed.keys() ?? [])]);
    const candidates = names.filter((n) => !except.has(n));
    if (candidates.length === 0) return null;
    if (target === 'leader') {
      const leader = await view.leader().catch(() => null);
      return leader !== null && !except.has(leader) ? leader : null;
    }
    if (target === 'primary') {
      const groups = await groupsNow();
      const primaries = groups ? groups.map((g) => g.primary).filter((p) => p !== '' && !except.has(p)) : [];
      return primaries.length > 0 ? pick([...new Set(primaries)].sort()) : null;
    }
    return pick(candidates);
  };

  const grudgeFor = async (shape: string): Promise<{ grudge: Grudge; about: string }> => {
    switch (shape) {
      case 'halves':
        return { grudge: randomHalves(names, random), about: 'random halves' };
      case 'one': {
        const node = pick(names);
        return { grudge: isolateOne(names, node), about: `${node} isolated` };
      }
      case 'follower': {
        // One node that does not lead, alone: the leader keeps its majority, so a node that serves
        // reads from its own state (etcd's serializable reads) falls behind while the rest go on.
        const leader = await view.leader().catch(() => null);
        const followers = names.filter((n) => n !== leader);
        const node = pick(followers.length > 0 ? followers : names);
        return { grudge: isolateOne(names, node), about: `${node} isolated${leader === null ? ' (no leader known)' : `, leader ${leader} in the majority`}` };
      }
      case 'primary':
      case 'primary-alone': {
        // The primary of a group loses its secondaries ('primary': it still
        // reaches the CM, so it should win and drop them) or every other node
        // ('primary-alone': a secondary should take over). Clients reach it either way.
        // A primary with nobody to cut it from (no secondaries) would be a partition that does nothing: refused below.
        const groups = await view.groups().catch(() => null);
        const all = (groups ?? []).filter((g) => g.primary !== '' && (shape === 'primary-alone' || g.secondaries.length > 0));
        if (all.length === 0) return { grudge: isolateOne(names, pick(names)), about: 'no primary known: one node isolated' };
        const g = pick([...all].sort((a, b) => a.group.localeCompare(b.group)));
        const peers = shape === 'primary' ? [...g.secondaries] : names.filter((n) => n !== g.primary);
        return { grudge: isolateFromPeers(g.primary, peers), about: `primary ${g.primary} of ${g.group} cut off from ${peers.join(', ')}` };
      }
      case 'secondary': {
        // One secondary of a group cut from its primary only: it still reaches the CM and the other
        // replicas. It falls behind while its lease keeps it in the configuration, and its grace
        // period runs from its last prepare: if the primary then fails, it is the first to ask to
        // take over (a lagging secondary promoted: what commit-on-majority needs).
        const groups = await view.groups().catch(() => null);
        const all = (groups ?? []).filter((g) => g.primary !== '' && g.secondaries.length > 0);
        if (all.length === 0) return { grudge: isolateOne(names, pick(names)), about: 'no secondary known: one node isolated' };
        const g = pick([...all].sort((a, b) => a.group.localeCompare(b.group)));
        const s = pick([...g.secondaries].sort());
        return { grudge: isolateFromPeers(s, [g.primary]), about: `secondary ${s} of ${g.group} cut off from its primary ${g.primary}` };
      }
      case 'ring':
        return { grudge: majoritiesRing(names, random), about: 'majorities ring' };
      case 'bridge':
        return { grudge: bridge(names, random), about: 'bridge' };
      default:
        throw new Error(`unknown partition ${shape}`);
    }
  };

  const startAll = async (): Promise<string[]> => {
    const nodes = [...killed].sort();
    for (const n of nodes) await cluster.start(n);
    killed.clear();
    return nodes;
  };
  const powerOnAll = async (): Promise<string[]> => {
    const nodes = [...powered].sort();
    for (const n of nodes) await cluster.start(n);
    powered.clear();
    return nodes;
  };
  const resumeAll = async (): Promise<string[]> => {
    const nodes = [...paused].sort();
    for (const n of nodes) await cluster.resume(n);
    paused.clear();
    return nodes;
  };
  const resetClocks = async (): Promise<string[]> => {
    strobing?.abort();
    await strobeDone;
    const nodes = [...skewed].sort();
    for (const n of nodes) await cluster.setClockOffset(n, 0);
    skewed.clear();
    return nodes;
  };
  const healNet = async (): Promise<boolean> => {
    const was = partitioned;
    await cluster.heal();
    partitioned = false;
    return was;
  };

  const clearPacket = async (): Promise<boolean> => {
    const was = packeted;
    if (packetUsed) await cluster.clearPacket();
    packeted = false;
    return was;
  };

  const run = async (op: Invocation): Promise<Value> => {
    switch (op.f) {
      case 'kill':
      case 'pause': {
        const target = (op.value ?? 'random') as Target;
        // Neither a paused node (with overlapping faults, resume would then act on a fresh process) nor a stopped one.
        const held = new Set([...killed, ...paused, ...powered]);
        if (target === 'all') {
          const nodes = everyFree(held);
          for (const node of nodes) {
            if (op.f === 'kill') await cluster.kill(node);
            else await cluster.pause(node);
            (op.f === 'kill' ? killed : paused).add(node);
          }
          return nodes.length > 0 ? { target, nodes } : { target, nodes, note: `nothing to ${op.f}` };
        }
        const node = await resolveTarget(target, held);
        if (node === null) return { target, node: null, note: `no ${target} to ${op.f}` };
        if (op.f === 'kill') {
          await cluster.kill(node);
          killed.add(node);
        } else {
          await cluster.pause(node);
          paused.add(node);
        }
        return { target, node };
      }
      case 'corrupt': {
        const { target = 'random', how = 'bitflip' } = (op.value ?? {}) as { target?: Target; how?: Corruption };
        if (!CORRUPTIONS.includes(how)) throw new Error(`unknown corruption ${how}`);
        const held = new Set([...killed, ...paused, ...powered]);
        const aimed = target === 'all' ? null : await resolveTarget(target, held);
        if (aimed === null) return { target, how, node: null, note: `no ${target} to corrupt` };
        // Damage stays on a minority of each role's nodes for the whole run (as Jepsen's etcd test keeps
        // its bit flips to a minority): damaged data stays damaged, so a fault that reached a majority of
        // the copies would be data loss no correct system survives, not a test of one. Nor does it damage
        // the last undamaged replica of a group's configuration (when the system names its groups). Past
        // that, the fault hits a node it already damaged, or nothing.
        // While the system cannot say (no CM leader), its groups are as it last said: a configuration changes only through it.
        const groups = (await groupsNow()) ?? lastGroups;
        const sole = groups === null ? [] : soleCopies(aimed, groups);
        // (A target is never a removed node: resolveTarget leaves those out, so damaging it loses one more.)
        const node =
          (damaged.has(aimed) || minorityWith(aimed, 1)) && sole.length === 0
            ? aimed
            : (names.filter((n) => damaged.has(n) && !held.has(n) && !(members?.removed.has(n) ?? false)).sort()[0] ?? null);
        if (node === null) {
          const lost = lostOfRole(aimed);
          const all = countOfRole(aimed);
          const why =
            sole.length > 0
              ? `the only undamaged replica of ${sole.join(', ')} in its configuration`
              : `${lost.length > 0 ? `with ${lost.join(', ')} lost (damaged or removed), ` : ''}one more of the ${all} ${roleOf(aimed)} node${all === 1 ? '' : 's'} would leave no majority`;
          return { target, how, node: null, note: `${aimed} spared: ${why}; no damaged node free to hit again` };
        }
        // On a stopped node only: a running one would overwrite the change, or read it half-made.
        await cluster.kill(node);
        killed.add(node);
        const done =
          cluster.dataFiles !== undefined ? corruptFiles(cluster.dataFiles(node), node, how, random) : corruptData(cluster.dataDir(node), how, random);
        if (done.how !== 'none') damaged.add(node);
        return { target, node, ...done } as unknown as Value;
      }
      case 'power-off': {
        const target = (op.value ?? 'random') as Target;
        const held = new Set([...killed, ...paused, ...powered]);
        const one = target === 'all' ? null : await resolveTarget(target, held);
        const nodes = target === 'all' ? everyFree(held) : one === null ? [] : [one];
        if (nodes.length === 0) return { target, node: null, note: `no ${target} to power off` };
        // Several nodes lose power at one instant: all frozen first, then killed and rolled back one by one,
        // so that none goes on writing (or syncing) while the others are already dark.
        if (nodes.length > 1) for (const n of nodes) await cluster.pause(n);
        const dropped: Record<string, Value> = {};
        for (const n of nodes) {
          const lost = await cluster.powerFail(n);
          powered.add(n);
          // What was dropped: the files put back to their last durable state and how many unsynced bytes that undid.
          dropped[n] = { files: [...lost.files], undoneBytes: lost.undone, redoneWrites: lost.redone, ...(lost.gone > 0 ? { goneFiles: lost.gone } : {}) };
        }
        if (target !== 'all') return { target, node: nodes[0], ...(dropped[nodes[0]] as Record<string, Value>) };
        return { target, nodes, dropped };
      }
      case 'power-on':
        return { nodes: await powerOnAll() };
      case 'start':
        return { nodes: await startAll() };
      case 'resume':
        return { nodes: await resumeAll() };
      case 'clock-bump': {
        const { nodes, deltaMs } = op.value as { nodes: string[]; deltaMs: number };
        for (const n of nodes) {
          await cluster.setClockOffset(n, deltaMs);
          skewed.add(n);
        }
        return { nodes, deltaMs };
      }
      case 'clock-strobe': {
        const { nodes, deltaMs, periodMs, durationMs } = op.value as { nodes: string[]; deltaMs: number; periodMs: number; durationMs: number };
        for (const n of nodes) skewed.add(n);
        if (cluster.strobeClock) {
          cluster.strobeClock(nodes, deltaMs, periodMs, durationMs);
          return { nodes, deltaMs, periodMs, durationMs };
        }
        const controller = new AbortController();
        strobing = controller;
        // Flip between +delta and 0 every period, in the background until the duration or a reset.
        strobeDone = (async () => {
          const end = performance.now() + durationMs;
          let up = true;
          while (!controller.signal.aborted && performance.now() < end) {
            for (const n of nodes) await cluster.setClockOffset(n, up ? deltaMs : 0);
            up = !up;
            await sleep(periodMs, controller.signal);
          }
        })();
        return { nodes, deltaMs, periodMs, durationMs };
      }
      case 'clock-reset':
        return { nodes: await resetClocks() };
      case 'partition': {
        const { grudge, about } = await grudgeFor(String(op.value ?? 'halves'));
        await cluster.partition(grudge);
        partitioned = true;
        return { shape: op.value, about, grudge: grudge as unknown as Value };
      }
      case 'heal':
        return { healed: await healNet() };
      case 'packet': {
        // Nodes drawn by the schedule, or a role resolved now (the leader, a primary).
        const v = (op.value ?? {}) as { nodes?: string[]; target?: Target; netem?: Netem };
        const netem = v.netem ?? {};
        checkNetem(netem);
        let nodes: string[];
        if (v.nodes !== undefined) nodes = v.nodes.filter((n) => cluster.nodes.some((x) => x.name === n));
        else {
          const node = await resolveTarget(v.target ?? 'random', new Set());
          if (node === null) return { target: v.target ?? 'random', nodes: [], netem: netem as Value, note: `no ${v.target} to slow down` };
          nodes = [node];
        }
        if (nodes.length === 0) return { nodes: [], netem: netem as Value, note: 'no node to slow down' };
        packetUsed = true;
        await cluster.packet(nodes, netem);
        packeted = true;
        return { ...(v.target !== undefined ? { target: v.target } : {}), nodes, netem: netem as Value, about: describeNetem(netem) };
      }
      case 'packet-clear':
        return { healed: await clearPacket() };
      case 'member-remove': {
        if (!members) throw new Error('this system has no membership changes');
        // A damaged node is lost for the run: with it, a removal must still leave its role a majority.
        const full = [...damaged].filter((n) => !minorityWith(n, 1)).sort();
        if (full.length > 0)
          return { role: String(op.value ?? ''), node: null, note: `no removal: ${full.join(', ')} damaged, another node out would leave no majority` };
        membershipChanged = true;
        return members.remove(String(op.value ?? ''));
      }
      case 'member-add':
        if (!members) throw new Error('this system has no membership changes');
        return members.add(op.value === undefined || op.value === null ? undefined : String(op.value));
      case 'heal-all': {
        const healed = await healNet();
        const packet: Record<string, Value> = packetUsed ? { packet: await clearPacket() } : {};
        const clocks = await resetClocks();
        const resumed = await resumeAll();
        const started = await startAll();
        const poweredOn = await powerOnAll();
        const done = { partition: healed, clocks, resumed, started, ...(poweredOn.length > 0 ? { poweredOn } : {}) };
        // Membership last, on a healed cluster; and only in runs that changed it (it waits for full replication).
        if (!membershipChanged) return { ...done, ...packet };
        return { ...done, ...packet, membership: (await members?.restoreAll(40_000)) ?? null };
      }
      default:
        throw new Error(`unknown nemesis op ${op.f}`);
    }
  };

  return {
    async invoke(op) {
      const value = await run(op);
      o.log?.(op.f, value);
      return { value };
    },
    async teardown() {
      // The cluster's own teardown kills and removes everything; this only stops the strobe loop.
      strobing?.abort();
      await strobeDone;
    },
  };
}
