/**
 * crdt/: the replicated store. What the network knows (results, corrections,
 * calibration, members, evidence, revocations) lives in one Yjs document per
 * node, written only through signed envelopes, each entry by its author alone,
 * and persisted as a log of envelopes in LevelDB (the results' texts in a file beside it). Nothing here speaks to the
 * network: protocols/crdt-sync carries the envelopes, node/ opens the replica.
 *
 * Where to look:
 * - replica.ts      `Replica`, the one API the rest of the project uses: open, put*, read, receive, heads/missing, compact, close
 * - options.ts      the replica's options, and what receiving an envelope answers
 * - schemas.ts      the shape of every entry, map by map
 * - envelope.ts     the signed envelope around one Yjs update: sign, verify, encode, decode
 * - authorship.ts   the check that a remote update touches only its author's data
 * - values.ts       bounds on values (depth, size, plain JSON only)
 * - document.ts     the Yjs document: apply, local writes, change listeners, typed reads
 * - value-store.ts  the results' texts, out of the document, in an append-only file beside the log
 * - log.ts          the envelope log in LevelDB, and the quarantine
 * - rebuild.ts      start-up: the document rebuilt from its snapshot and the log, what fails set aside
 * - snapshot.ts     snapshots of the document, and when to take them
 * - stage.ts        writes issued in one turn applied in one Yjs transaction
 * - own-store.ts    own writes batched into envelopes (group commit), stored in order, kept in memory while LevelDB refuses
 * - compaction.ts   own envelopes folded into few, reading the log back to its last large envelope
 * - fold.ts         a run of one client's updates folded into one update, without a document
 * - coverage.ts     which positions of each log are held: heads, what a peer lacks
 * - held.ts         remote envelopes held back (waiting for an incarnation or an admission)
 * - admission.ts    who may write: `admits`, membership certificates
 * - errors.ts       the errors writes reject with
 *
 * Callers import the module they need (crdt/replica.js, crdt/schemas.js, ...); this entry
 * gathers the public API for a reader.
 */
export { Replica, type Change, type ReceiveOutcome, type ReplicaOptions, DEFAULT_MAX_HELD_BYTES, DEFAULT_MAX_HELD_BYTES_PER_AUTHOR } from './replica.js'
export { ReplicaClosedError, ReplicaWriteError, UncapturedWriteError } from './errors.js'
export * from './schemas.js'
export { MAPS, type MapName } from './authorship.js'
