/**
 * The Byzantine quorum for critical images.
 *
 * The origin of a critical task asks 2f+1 distinct members (itself included
 * when it is one): it publishes a ballot on VOTES_TOPIC (task, image hash,
 * model version, voters). Each chosen voter fetches the image from the origin
 * (blob protocol), recognises it, signs a vote and publishes it on the same
 * topic. The origin counts verified votes from ballot voters; 2f+1 for the
 * same normalised LaTeX form a quorum certificate. A voter that signs two
 * different votes for one task is an equivocator: both votes are kept as
 * evidence and its votes stop counting.
 *
 * Load (issue 20): the origin keeps at most VOTER_WINDOW of its ballots in
 * flight to any one voter, and queues the rest of its critical tasks until a
 * voter has room (backpressure), choosing the least loaded voters. Deadlines
 * follow progress: every vote a voter signs, on any task, is seen on the topic,
 * so a voter working through a queue is known to be alive. A voter is
 * suspected when it has shown no progress for a while (a few of its typical
 * reading times, at least MIN_SUSPECT_MS) or has voted SKIP_VOTES times since
 * the ballot reached it without voting on it; a suspected voter is asked once
 * more, and the ballot grows by as many voters as a quorum then lacks (its
 * vote still counts if it comes). Once a quorum is out of reach with every
 * member asked, and every suspected voter has stayed silent for `silenceMs`
 * after being asked again, the task ends with "no consensus" and its votes.
 *
 * Where things are:
 *   index.ts     this service's API (QuorumInit, QuorumComponents, Quorum) and its shell: start, stop, the topic
 *   messages.ts  the wire format: ballot, vote and busy messages (JSON; gossipsub signs them, so the sender is known)
 *   origin.ts    the asking side: this node's critical tasks queued, put to a vote, counted and certified
 *   sweep.ts     voters that fall silent on a ballot: suspected, asked again, given up on
 *   standing.ts  what the origin knows of each voter: the order voters are asked in, their windows, dissent
 *   voter.ts     the reading side: ballots naming this node, read, signed (ledger first) and published
 *   watch.ts     every vote seen: verified, kept to catch equivocation, counted as its voter's progress
 *   policy.ts    the pure rules, unit-tested (test/quorum-policy.test.ts)
 *   vote.ts      signed votes and quorum certificates; ledger.ts: the votes this node signed; constants.ts
 *
 * @example
 * ```ts
 * const service = quorum({ key, model, network, eligible, isMember, ... })({ node, log })
 * service.start()
 * service.begin({ id: task.id, image: task.hash, file: task.file })
 * service.stateOf(task.id) // { state: 'voting', round: 1, ... }
 * ```
 */
import type { Libp2p, Ed25519PrivateKey } from '@libp2p/interface'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { BlobService } from '../blob/index.js'
import type { ComponentLog } from '../log.js'
import { DEFAULT_F, DEFAULT_SILENCE_MS, EXTRA_VOTERS, SWEEP_MS, VOTES_TOPIC, WAIT_POLL_MS } from './constants.js'
import type { VoteLedger } from './ledger.js'
import { readMessage } from './messages.js'
import { Origin } from './origin.js'
import type { TimingSummary } from './policy.js'
import { newCounts, newTiming, type Shared } from './shared.js'
import { Standing } from './standing.js'
import { Sweeper } from './sweep.js'
import { SignedVote, type QuorumCertificate, type QuorumCheck } from './vote.js'
import { Voter } from './voter.js'
import { VoteWatch } from './watch.js'

export type { TimingSummary } from './policy.js'

export * from './constants.js'

export * from './vote.js'

export interface Recognition { latex: string, confidence: number, model: string }

export interface CriticalTask { id: string, image: string, file: string }

export type QuorumState =
  | { state: 'waiting', reason: string }
  | { state: 'voting', round: number, voters: string[], votes: number, needed: number, suspected: string[] }
  | { state: 'certified', voters: string[] }
  | { state: 'no-consensus', votes: SignedVote[] }

/**
 * simnet's Byzantine voters: given the honest vote, the votes to publish instead
 * (none: stay silent); `publish` sends raw bytes on the topic.
 */
export type VoteTamper = (honest: SignedVote, ctx: { voters: string[], publish: (bytes: Uint8Array) => Promise<void> }) => Promise<SignedVote[]>

/**
 * Where a ballot's time goes, on this node: as an origin, the wait for voters with room (queued), the
 * time from the first ballot to the certificate, and from a ballot to each vote; as a voter, the wait
 * in its queue, the image fetch, the reading, and signing and publishing.
 */
export interface QuorumTimings {
  origin: { queuedMs: TimingSummary, ballotToCertificateMs: TimingSummary, ballotToVoteMs: TimingSummary, certified: number, noConsensus: number, grown: number, suspected: number, queued: number, open: number }
  voter: { waitMs: TimingSummary, fetchMs: TimingSummary, readMs: TimingSummary, publishMs: TimingSummary, readings: number, busy: number }
}

export interface QuorumInit {
  /** faults tolerated: n = 3f+1 voters, 2f+1 matching votes certify @default DEFAULT_F */
  f?: number
  /** the random source (simnet seeds it, so a run replays) @default Math.random */
  random?: () => number
  /** the most voters a ballot may grow to @default 3f+1+EXTRA_VOTERS */
  maxVoters?: number
  /** how long a suspected voter asked again may stay silent before it is given up on @default DEFAULT_SILENCE_MS */
  silenceMs?: number
  /** ballots this node reads at once as a voter (its workers) @default DEFAULT_CONCURRENCY */
  concurrency?: number
  /** this node's key: it signs this node's votes */
  key: Ed25519PrivateKey
  /** the current model version (what this node votes with) */
  model: string
  /** the network name, or null in an open network */
  network: string | null
  /** members that may vote now (connected, certified); this node is added when it is a member */
  eligible: () => string[]
  /** is this peer a member whose ballots and votes count? */
  isMember: (peer: string) => boolean
  /** the membership certificate text of a member, for the certificate */
  certificateOf: (peer: string) => string | undefined
  /** where a voter fetches a ballot's image from the members that sent the ballot */
  blobs: Pick<BlobService, 'fetch'>
  /** the image bytes when this node holds them (its own tasks) */
  localImage: (hash: string) => Promise<Uint8Array | undefined>
  /** read an image, as a voter */
  recognise: (image: Uint8Array, file: string) => Promise<Recognition>
  /** one of this node's critical tasks has a quorum certificate */
  onCertified: (task: CriticalTask, certificate: QuorumCertificate, confidence: number) => Promise<void>
  /** the check every reader will apply: a certificate that fails it is never issued */
  checkCertificate: (certificate: QuorumCertificate) => Promise<QuorumCheck>
  /** one of this node's critical tasks ended without consensus: every vote it got */
  onNoConsensus: (task: CriticalTask, votes: SignedVote[]) => Promise<void>
  /** a voter signed two different votes on one task (any task seen): the two, as evidence */
  onEquivocation: (a: SignedVote, b: SignedVote) => Promise<void>
  /** where this node keeps the votes it signed @default a MemoryVoteLedger, for the last REMEMBERED_VOTES tasks */
  ledger?: VoteLedger
  /** simnet's Byzantine voters (see VoteTamper) @default none: this node publishes its honest vote */
  tamper?: VoteTamper
}

/** What the service uses of gossipsub: the vote topic, its messages and its subscribers. */
export type VotesPubsub = Pick<GossipSub, 'subscribe' | 'unsubscribe' | 'publish' | 'getSubscribers' | 'addEventListener' | 'removeEventListener'>

export interface QuorumComponents {
  /** this node: its peer id (in ballots and votes), and gossipsub, which carries them on VOTES_TOPIC */
  node: Pick<Libp2p<{ pubsub: VotesPubsub }>, 'peerId' | 'services'>
  /** the `protocols:votes` logger */
  log: ComponentLog
}

export interface Quorum {
  /** Subscribe to the vote topic and start the timers. Idempotent; a service once stopped does not start again. */
  start(): void
  /** Stop voting; a vote under way is dropped before it is signed into the ledger. Idempotent, and harmless before start. */
  stop(): Promise<void>
  /** Hold (or release) this node's queued critical tasks: no new ballots go out while held (simnet). */
  pause(paused: boolean): void
  /** Put one of this node's critical tasks to a vote (again, after this node restarted): queued until voters have room. */
  begin(task: CriticalTask): void
  /** Stop voting on a task that finished another way (a certified result from elsewhere). */
  end(task: string): void
  /** Where a critical task of this node stands. */
  stateOf(task: string): QuorumState | undefined
  /** Where ballots' time goes on this node (see QuorumTimings). */
  timings(): QuorumTimings
  /** Bytes of votes kept to catch equivocation, and on how many tasks (for tests and status). */
  recentVotes(): { tasks: number, bytes: number }
  /** equivocators seen anywhere (their votes never count); the node adds those its stored evidence proves */
  readonly equivocators: Set<string>
  /** ms from the arrival of the vote that completed a quorum to the certificate, most recent last */
  readonly formationMs: readonly number[]
}

class QuorumService implements Quorum {
  private readonly shared: Shared
  private readonly watch: VoteWatch
  private readonly voter: Voter
  private readonly origin: Origin
  private readonly sweeper: Sweeper
  private waitTimer: ReturnType<typeof setInterval> | undefined
  private sweepTimer: ReturnType<typeof setInterval> | undefined
  private started = false

  constructor (components: QuorumComponents, init: QuorumInit) {
    const f = init.f ?? DEFAULT_F
    this.shared = {
      self: components.node.peerId.toString(),
      f,
      needed: 2 * f + 1,
      size: 3 * f + 1,
      maxVoters: init.maxVoters ?? 3 * f + 1 + EXTRA_VOTERS,
      silenceMs: init.silenceMs ?? DEFAULT_SILENCE_MS,
      init,
      log: components.log,
      pubsub: components.node.services.pubsub,
      stopped: false,
      timing: newTiming(),
      counts: newCounts()
    }
    this.watch = new VoteWatch(this.shared, task => this.origin.polls.has(task))
    this.voter = new Voter(this.shared, this.watch, async vote => { await this.receiveVote(vote) })
    const standing = new Standing(this.shared, this.watch)
    this.origin = new Origin(this.shared, this.watch, standing, this.voter)
    this.sweeper = new Sweeper(this.shared, this.watch, standing, this.origin)
    this.onMessage = this.onMessage.bind(this)
  }

  readonly [Symbol.toStringTag] = 'texmesh:quorum'

  get equivocators (): Set<string> { return this.watch.equivocators }
  get formationMs (): readonly number[] { return this.origin.formationMs }

  start (): void {
    if (this.started || this.shared.stopped) return
    this.started = true
    this.shared.pubsub.subscribe(VOTES_TOPIC)
    this.shared.pubsub.addEventListener('message', this.onMessage)
    this.waitTimer = setInterval(() => { this.origin.pump() }, WAIT_POLL_MS)
    this.waitTimer.unref()
    this.sweepTimer = setInterval(() => { this.sweeper.sweep() }, Math.min(SWEEP_MS, this.shared.silenceMs))
    this.sweepTimer.unref()
  }

  async stop (): Promise<void> {
    if (this.shared.stopped) return
    this.shared.stopped = true
    if (this.waitTimer != null) clearInterval(this.waitTimer)
    if (this.sweepTimer != null) clearInterval(this.sweepTimer)
    if (!this.started) return
    this.shared.pubsub.removeEventListener('message', this.onMessage)
    this.shared.pubsub.unsubscribe(VOTES_TOPIC)
  }

  pause (paused: boolean): void { this.origin.pause(paused) }
  begin (task: CriticalTask): void { this.origin.begin(task) }
  end (task: string): void { this.origin.end(task) }
  stateOf (task: string): QuorumState | undefined { return this.origin.stateOf(task) }
  recentVotes (): { tasks: number, bytes: number } { return this.watch.recentVotes() }

  timings (): QuorumTimings {
    const t = this.shared.timing
    const c = this.shared.counts
    return {
      origin: { queuedMs: t.queued.summary(), ballotToCertificateMs: t.toCertificate.summary(), ballotToVoteMs: t.toVote.summary(), certified: c.certified, noConsensus: c.noConsensus, grown: c.grown, suspected: c.suspected, queued: this.origin.queued.size, open: this.origin.polls.size },
      voter: { waitMs: t.wait.summary(), fetchMs: t.fetch.summary(), readMs: t.read.summary(), publishMs: t.publish.summary(), readings: c.readings, busy: c.busy }
    }
  }

  private onMessage (evt: CustomEvent<Message>): void {
    const { log, init, self } = this.shared
    const msg = evt.detail
    if (msg.topic !== VOTES_TOPIC || msg.type !== 'signed') return
    const from = msg.from.toString()
    const read = readMessage(msg.data)
    switch (read.kind) {
      case 'refused':
        if (read.why === 'oversized') log.debug({ peer: from, bytes: msg.data.length }, 'refused an oversized vote message')
        else if (read.why === 'unreadable') log.debug({ peer: from }, 'refused an unreadable vote message')
        else log.debug({ peer: from }, 'refused a malformed vote message')
        return
      case 'ballot':
        if (read.ballot.voters.includes(self) && init.isMember(from)) this.voter.enqueue(from, read.ballot)
        return
      case 'vote':
        this.receiveVote(read.vote, performance.now()).catch(err => { log.warn({ err: (err as Error).message }, 'counting a vote failed') })
        return
      case 'busy':
        this.origin.onBusy(from, read.task, read.image).catch(err => { log.warn({ err: (err as Error).message }, 'handling a busy voter failed') })
    }
  }

  /** A vote from the network (or this node): checked and kept (VoteWatch), then counted by the origin of its task. */
  private async receiveVote (input: unknown, arrived = performance.now()): Promise<void> {
    const seen = await this.watch.see(input, arrived)
    if (seen != null) await this.origin.count(seen, arrived)
  }
}

/** The quorum service: give it this node's setup (`init`), then the node and a logger (`components`). */
export function quorum (init: QuorumInit): (components: QuorumComponents) => Quorum {
  return (components) => new QuorumService(components, init)
}

export { SignedVote as SignedVoteSchema }
