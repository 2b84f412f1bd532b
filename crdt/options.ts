import type { Ed25519PrivateKey } from '@libp2p/interface'

/** What the replica's options and answers look like (replica.ts). */

export type ReceiveOutcome =
  | { status: 'applied' | 'duplicate' | 'pending' }
  | { status: 'rejected', reason: string, detail: string }

export interface ReplicaOptions {
  /** LevelDB folder */
  path: string
  key: Ed25519PrivateKey
  /**
   * May this author write, as far as the caller knows now (a connected
   * member; always true in an open network)? Without it and without
   * `certifiedUntil`, every author may.
   */
  admits?: (author: string) => boolean
  /**
   * Until when (ms since the epoch) does this membership certificate text make
   * `author` a member; undefined if it does not. With it, an author `admits`
   * refuses is still admitted when its entry in the members map, or a member
   * entry inside the envelope itself, holds such a certificate.
   */
  certifiedUntil?: (author: string, certificate: string) => Promise<number | undefined>
  /**
   * Called for each refused remote envelope. `held`: kept, and applied if its
   * author's certificate arrives (usual while a new member's certificate spreads).
   */
  onReject?: (reason: string, detail: string, author: string | undefined, held: boolean) => void
  /** Bytes of envelopes held back (waiting for an incarnation, or for their author to be admitted), all authors together (default 16 MiB). */
  maxHeldBytes?: number
  /** The same, for one author (default 4 MiB). */
  maxHeldBytesPerAuthor?: number
  /** Compact the own log after this many new own envelopes (default 1000; 0: never by itself). */
  compactEvery?: number
}
