/** Replicated-store sync's limits and timings (protocols/crdt-sync/index.ts explains the protocol). */
/**
 * Version 2: entries are JSON text in the document (crdt/values.ts). A version-1 node refuses such
 * an entry and with it the rest of its author's log, so the two versions do not exchange envelopes
 * at all: a network upgrades all its nodes together.
 */
export const CRDT_SYNC_PROTOCOL = '/texmesh/crdt-sync/2.0.0'
export const CRDT_TOPIC = 'texmesh/crdt/2'
/** an envelope is at most 256 KiB of update plus its header */
export const MAX_ENVELOPE_MESSAGE = 256 * 1024 + 1024
/** One catch-up answer stops after this many bytes of envelopes. */
export const PAGE_BYTES = 2 * 1024 * 1024
/** What a puller may have to buffer: a page, the envelope that crosses its end, the end mark. */
export const MAX_ANSWER_BYTES = PAGE_BYTES + 2 * MAX_ENVELOPE_MESSAGE
/** heads of up to ~10,000 logs */
export const MAX_HEADS_BYTES = 1024 * 1024
export const SYNC_TIMEOUT_MS = 60_000
export const ANTI_ENTROPY_MS = 30_000
/** A failed catch-up is tried again this much later (times the attempt), this many times. */
export const PULL_RETRY_MS = 1_000
export const PULL_RETRIES = 3
/**
 * A node pulls from a peer when it meets it, and once more this much later: until each side
 * has the other's gossip subscription, an envelope published meanwhile reaches no one, and
 * the first catch-up may have been served before it was written.
 */
export const PULL_AGAIN_MS = 2_000
/** Catch-up streams open at once with one peer, each way. */
export const CRDT_SYNC_MAX_STREAMS = 4
