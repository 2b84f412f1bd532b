/** Peer exchange's limits and timings (protocols/peer-exchange/index.ts explains the protocol). */
export const PEER_EXCHANGE_PROTOCOL = '/texmesh/peer-exchange/1.0.0'
/** enough to seed a mesh; a peer that sends more is truncated, not trusted more */
export const MAX_EXCHANGED_PEERS = 32
export const MAX_ADDRS_PER_PEER = 8
/** 32 peers x 8 addresses x ~120 bytes, with room to spare */
export const MAX_PEER_EXCHANGE_BYTES = 64 * 1024
export const PEER_EXCHANGE_TIMEOUT_MS = 10_000
/**
 * A peer that connected a moment before another may not know that one's
 * addresses yet when it answers (identify still running): ask once more a few
 * seconds after the first exchange, and every REFRESH_MS ask one connected
 * peer at random, so late joiners are always found.
 */
export const FOLLOW_UP_MS = 3_000
export const REFRESH_MS = 30_000
/** Peer-exchange streams open at once with one peer, each way. */
export const PEER_EXCHANGE_MAX_STREAMS = 2
