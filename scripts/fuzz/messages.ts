/**
 * What the fuzz run (run.ts, on the main thread beside the node) and its attacker (worker.ts, on a
 * worker thread of its own) tell each other: the attacker's orders, its counts per target, its last
 * word; and the key prefixes by which the store check tells the attacker's entries apart.
 */

export type TargetKind = 'stream' | 'topic' | 'answer' | 'transport'

export interface TargetStats {
  target: string
  kind: TargetKind
  /** inputs sent (for answers: requests of the node answered with hostile data) */
  sent: number
  /** the node answered normally (for topics and gossipsub RPCs: the input was taken without complaint) */
  answered: number
  /** the node refused: an error answer, a reset or closed stream, a dropped connection attempt */
  refused: number
  /** the node was still waiting when the attacker gave up (slowloris, stalls, truncated frames: expected) */
  stalled: number
  /** what should not happen: a connection the node dropped, a dial that failed, an answer to an input it must refuse */
  errors: number
  /** inputs by attack class */
  classes: Record<string, number>
  /** a few examples of errors */
  samples: string[]
}

export interface AttackerInit {
  node: { peerId: string, addrs: string[], tcpPort: number }
  /** the node's protocols and, for each, its inbound stream limit per connection */
  protocols: Array<{ protocol: string, maxInbound: number }>
  count: number
  /** ms since the epoch: every campaign ends by then */
  deadline: number
  seed: number
  /** private network: its pre-shared key and name; undefined for an open network */
  network?: { name: string, psk: string, adminPublicKey: string }
  /** libp2p protobuf private keys (hex) and certificate texts of the member identities */
  identities: { m: { key: string, cert?: string }, s: { key: string, cert?: string }, p: { key: string, cert?: string }, extra: Array<{ key: string, cert?: string }> }
  /** a real formula image (PNG) */
  fixture: Uint8Array
  /** hold one stream per protocol until the node's own deadline (up to 62 s) */
  longStalls?: boolean
}

export type AttackerMessage =
  | { type: 'progress', stats: TargetStats[] }
  | { type: 'done', stats: TargetStats[], probe: ProbeResult, notes: string[], keys: string[] }
  | { type: 'failed', error: string, stats: TargetStats[] }

export interface ProbeResult { ok: boolean, detail: string, ms: number }

/** Keys in the store an attack expects the node to refuse start with this; accepted ones with ACCEPTED_PREFIX. */
export const REFUSED_PREFIX = 'fuzz-refuse-'
export const ACCEPTED_PREFIX = 'fuzz-ok-'
