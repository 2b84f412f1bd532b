import type { Ed25519PrivateKey } from '@libp2p/interface'
import type { VoteTamper } from '../../protocols/votes/index.js'
import type { Compute } from './compute.js'

/**
 * What a harness that starts nodes (simnet, tests, benchmarks) may change in
 * them, in one place; a node started by `texmesh node` has none of it.
 */
export interface NodeHooks {
  /** What recognises images, in place of the shipped model (simnet: a modelled sleep, a slowed pipeline). */
  compute?: Compute
  /** Votes to publish in place of the honest one (simnet's Byzantine voters), made with the node's key. */
  tamper?: (key: Ed25519PrivateKey) => VoteTamper
  /** Fault routes in the local API: partitions (refused connections), pausing the queues, dialling. */
  faults?: boolean
  /** The random source of the node's protocols (peer choices, backoff jitter, voter order): simnet seeds it, so a run replays. */
  random?: () => number
}
