/** Blob transfer's limits and timings (protocols/blob/index.ts explains the protocol). */
export const BLOB_PROTOCOL = '/texmesh/blob/1.0.0'
/** A request is one hash in JSON; anything larger is not a request. */
export const MAX_REQUEST_BYTES = 256
/** Chunks keep a transfer streaming without holding a second copy of a large image in a frame. */
export const CHUNK_BYTES = 64 * 1024
/** The largest image a node accepts, from its local API or from another node: the one place this limit is set. */
export const MAX_IMAGE_BYTES = 32 * 1024 * 1024
/** A 32 MiB image over a slow LAN link with margin. */
export const BLOB_TIMEOUT_MS = 60_000
/** Workers fetch one or two images at a time; a few streams leave room without letting a peer pile up work. */
export const BLOB_MAX_INBOUND_STREAMS = 8
