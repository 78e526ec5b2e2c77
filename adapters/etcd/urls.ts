// Where etcd is and where its members listen: every member on its own
// address, clients on port 2379, peers on 2380.

export const ETCD_BINARY = '/usr/bin/etcd';
export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;

export const peerUrl = (host: string): string => `http://${host}:${PEER_PORT}`;
export const clientUrl = (host: string): string => `http://${host}:${CLIENT_PORT}`;
