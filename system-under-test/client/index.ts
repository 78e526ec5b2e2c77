// The key-value store's client library (see kv-client.ts) and the placement
// it shares with the servers.
export { KvClient, type KvClientOptions, type KvOutcome, type KvValue } from './kv-client.js';
export { fnv1a32, groupName, groupOf, hashTag, initialLayout } from '../pacifica/placement.js';
