// Where keys and replicas live. Shared by the data servers and the client
// library so that both agree, and pure (no I/O) so tests can enumerate it.
//
// Keys -> groups: FNV-1a (32 bit) of the key's UTF-8 bytes, mod the number of
// groups; when the key contains "{...}" with at least one character inside,
// only the part inside the first such braces is hashed (Redis hash tags), so
// "{acct}1" and "{acct}2" share a group (what a bank transfer needs).
// Groups are named g0 .. g(N-1).
//
// Groups -> servers: the server ids sorted as strings, S; group i's primary is
// S[i mod |S|] and its secondaries the next R-1 servers round-robin
// (S[(i+1) mod |S|], ...). Primaries are spread evenly over the servers.

import { invariant } from '../util/invariant.js';
import type { GroupLayout } from './types.js';

const encoder = new TextEncoder();

/** FNV-1a, 32 bit, of the UTF-8 bytes of `s`. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The part of a key that is hashed: the inside of the first non-empty {...}, else the whole key. */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

export function groupName(index: number): string {
  return `g${index}`;
}

/** The group holding `key` among `groups` groups. */
export function groupOf(key: string, groups: number): string {
  invariant(Number.isInteger(groups) && groups >= 1, 'placement: need at least one group');
  return groupName(fnv1a32(hashTag(key)) % groups);
}

/** The initial layout of every group (what the data servers ask the CM to create). */
export function initialLayout(servers: readonly string[], groups: number, replication: number): Record<string, GroupLayout> {
  const s = [...servers].sort();
  invariant(new Set(s).size === s.length, 'placement: duplicate server ids');
  invariant(replication >= 1 && replication <= s.length, () => `placement: replication ${replication} needs 1..${s.length} servers`);
  const out: Record<string, GroupLayout> = {};
  for (let i = 0; i < groups; i++) {
    const members = Array.from({ length: replication }, (_, j) => s[(i + j) % s.length]);
    out[groupName(i)] = { primary: members[0], secondaries: members.slice(1) };
  }
  return out;
}
