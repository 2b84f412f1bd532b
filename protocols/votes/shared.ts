/**
 * What the parts of the quorum service (origin.ts, sweep.ts, standing.ts,
 * voter.ts, watch.ts) share: its settings, the vote topic, whether it has
 * stopped, and its measurements (QuorumTimings is made of them).
 */
import type { ComponentLog } from '../log.js'
import type { QuorumInit, VotesPubsub } from './index.js'
import { Samples } from './policy.js'

export interface Shared {
  /** this node's peer id */
  readonly self: string
  /** faults tolerated */
  readonly f: number
  /** 2f+1: the matching votes that certify */
  readonly needed: number
  /** 3f+1: the members a vote wants online */
  readonly size: number
  /** the most voters a ballot may grow to */
  readonly maxVoters: number
  readonly silenceMs: number
  readonly init: QuorumInit
  readonly log: ComponentLog
  readonly pubsub: VotesPubsub
  /** set by stop(), for good: work under way ends before it signs, counts or asks */
  stopped: boolean
  readonly timing: Timing
  readonly counts: Counts
}

export interface Timing {
  queued: Samples
  toCertificate: Samples
  toVote: Samples
  /** from the later of the ballot and the voter's previous vote to its vote: a voter's time per ballot, which suspicion scales with */
  service: Samples
  wait: Samples
  fetch: Samples
  read: Samples
  publish: Samples
}

export interface Counts { certified: number, noConsensus: number, grown: number, suspected: number, readings: number, busy: number }

export function newTiming (): Timing {
  return {
    queued: new Samples(),
    toCertificate: new Samples(),
    toVote: new Samples(),
    service: new Samples(256),
    wait: new Samples(),
    fetch: new Samples(),
    read: new Samples(),
    publish: new Samples()
  }
}

export function newCounts (): Counts {
  return { certified: 0, noConsensus: 0, grown: 0, suspected: 0, readings: 0, busy: 0 }
}
