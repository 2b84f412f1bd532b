/**
 * The errors a replica's writes reject with (exported by crdt/replica.ts): closed, not stored
 * yet, never captured.
 */

export class ReplicaClosedError extends Error {
  override name = 'ReplicaClosedError'
  constructor (message = 'the replica is closed') { super(message) }
}

/**
 * An own change could not be stored (a full disk, say). It stays in the document and in order,
 * and is stored, then published, when LevelDB takes writes again: later own changes wait behind
 * it, so peers never see a gap in this node's log.
 */
export class ReplicaWriteError extends Error {
  override name = 'ReplicaWriteError'
}

/** A local write changed the document but Yjs reported no update for it: never acknowledged. */
export class UncapturedWriteError extends Error {
  override name = 'UncapturedWriteError'
}
