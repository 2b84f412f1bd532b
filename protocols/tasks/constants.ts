/** Work sharing's limits and timings (protocols/tasks/index.ts explains the protocol). */
export const TASKS_PROTOCOL = '/texmesh/tasks/1.0.0'
export const TASKS_TOPIC = 'texmesh/tasks/1'
/** Streams on TASKS_PROTOCOL open at once, each way. */
export const TASKS_MAX_INBOUND_STREAMS = 32
export const TASKS_MAX_OUTBOUND_STREAMS = 32
/** Requests are a few dozen bytes; replies carry at most MAX_GRANT leases of ~200 bytes. */
export const MAX_REQUEST_BYTES = 1024
export const MAX_REPLY_BYTES = 64 * 1024
/** A thief asks for what it can start soon; more than this per request is never granted. */
export const MAX_GRANT = 16
/** A load message: counts and at most MAX_ANNOUNCED task ids and hashes. */
export const MAX_ANNOUNCED = 16
export const MAX_LOAD_MESSAGE_BYTES = 4096
/** Loopback or LAN round trips take milliseconds; a stuck peer must not hold a slot long. */
export const STEAL_TIMEOUT_MS = 5_000
/** Load is gossiped at once when tasks are added or come back and when the queue runs dry, and at least this often while tasks wait. */
export const DEFAULT_ANNOUNCE_MS = 2_000
/** An idle node still says its load (its workers, none queued) this often, so that peers know it. */
export const LOAD_HEARTBEAT_MS = 30_000
/** A peer that joins TASKS_TOPIC hears its neighbours' load within this long (joins in one window give one message). */
export const GREET_MS = 1_000
/** An origin's load older than this is not trusted for stealing. */
export const LOAD_STALE_MS = 15_000
/** An idle slot looks again after this long even if no load message arrived. */
export const IDLE_POLL_MS = 1_000
/** Load messages from one node are at least this far apart (a burst of grants gives one message). */
export const ANNOUNCE_MIN_MS = 50
/** Origins whose load is tracked (a campus network has tens of nodes). */
export const MAX_ORIGINS = 1024
/** After a failed fetch a slot waits this long before it takes work again. */
export const FETCH_BACKOFF_MS = 500
export const MAX_FETCH_BACKOFF_MS = 30_000
/** Origins a slot asks in turn, in one look for work, before it turns to backups. */
export const STEAL_ATTEMPTS = 3
/** Concurrent tasks on a node (its slots), unless told otherwise. */
export const DEFAULT_CAPACITY = 1
/** Tasks a slot leases and fetches ahead while one runs (0 or 1), unless told otherwise. */
export const DEFAULT_PREFETCH = 1

/** A worker that cannot process an image says so; after this many reports the task fails for good. */
export const MAX_FAILURES = 3
/** A worker holds at most this many leases of one origin at once (a member cannot hoard the queue). */
export const MAX_LEASES_PER_PEER = 8
/** How long a worker may hold a task before it is granted to another; an image takes well under a second. */
export const DEFAULT_LEASE_MS = 30_000
