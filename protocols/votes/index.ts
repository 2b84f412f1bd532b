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
 * Messages (JSON; gossipsub signs them, so the sender is known):
 *   {"kind": "ballot", "task", "image", "model", "file", "voters": [PEER...], "round"}
 *   {"kind": "vote", "vote": SignedVote}
 *   {"kind": "busy", "task", "image"}   (a voter whose queue is full: the origin asks another)
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, Ed25519PrivateKey } from '@libp2p/interface'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { z } from 'zod'
import { decodeJson, encodeJson } from '../json.js'
import type { BlobService } from '../blob/index.js'
import { DEFAULT_F, SignedVote, isEquivocation, signVote, verifyVote, type QuorumCertificate, type QuorumCheck } from './vote.js'
import { MemoryVoteLedger, type VoteLedger } from './ledger.js'
import { SHA256_HEX } from '../../util/sha256.js'
import { VOTES_TOPIC, MAX_VOTE_MESSAGE_BYTES, DEFAULT_SILENCE_MS, VOTER_WINDOW, SWEEP_MS, MAX_TRACKED_VOTERS, MAX_REASKS, BUSY_RETRY_VOTES, BUSY_PER_SECOND, RECENT_TASKS, MAX_RECENT_VOTE_BYTES, FOREIGN_VOTES_MS, REMEMBERED_VOTES, MAX_BALLOTS_PER_TASK, MAX_PENDING_BALLOTS, MAX_PENDING_BALLOTS_PER_ORIGIN, SKIP_VOTES, REPUBLISH_MS, WAIT_POLL_MS, FETCH_AHEAD } from './constants.js'
import { FairSlots, dissentNow, median, quorums, rankVoters, Samples, suspicionMs, votersLacking, type TimingSummary } from './policy.js'
import type { ComponentLog } from '../log.js'

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

export interface QuorumInit {
  /** faults tolerated: n = 3f+1 voters, 2f+1 matching votes certify @default DEFAULT_F */
  f?: number
  /** the random source (simnet seeds it, so a run replays) @default Math.random */
  random?: () => number
  /** the most voters a ballot may grow to @default 3f+1+3 */
  maxVoters?: number
  /** how long a suspected voter asked again may stay silent before it is given up on @default DEFAULT_SILENCE_MS */
  silenceMs?: number
  /** ballots this node reads at once as a voter (its workers) @default 1 */
  concurrency?: number
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
  blobs: BlobService
  /** the image bytes when this node holds them (its own tasks) */
  localImage: (hash: string) => Promise<Uint8Array | undefined>
  recognise: (image: Uint8Array, file: string) => Promise<Recognition>
  onCertified: (task: CriticalTask, certificate: QuorumCertificate, confidence: number) => Promise<void>
  /** the check every reader will apply: a certificate that fails it is never issued */
  checkCertificate: (certificate: QuorumCertificate) => Promise<QuorumCheck>
  onNoConsensus: (task: CriticalTask, votes: SignedVote[]) => Promise<void>
  onEquivocation: (a: SignedVote, b: SignedVote) => Promise<void>
  /** where this node keeps the votes it signed @default in memory, for the last REMEMBERED_VOTES tasks */
  ledger?: VoteLedger
  /** simnet's Byzantine voters (see VoteTamper) */
  tamper?: VoteTamper
  log: ComponentLog
}

const Ballot = z.object({
  kind: z.literal('ballot'),
  task: z.string().min(1).max(64),
  image: z.string().regex(SHA256_HEX),
  model: z.string().min(1).max(128),
  file: z.string().max(1024),
  voters: z.array(z.string().max(128)).min(1).max(64),
  round: z.number().int().min(1).max(64)
}).strict()
const VoteMessage = z.object({ kind: z.literal('vote'), vote: z.unknown() }).strict()

const BusyMessage = z.object({ kind: z.literal('busy'), task: z.string().min(1).max(64), image: z.string().regex(SHA256_HEX) }).strict()

/** Where a voter on a ballot stands, as the origin sees it. */
interface Asked {
  /** when the ballot went out to it (asked again: when it was asked again) */
  at: number
  /** its progress count then */
  count: number
  /** no progress for too long, skipped the ballot, or said it was busy: the ballot grows as if it would not vote */
  suspected: boolean
  /** asked again once suspected */
  reasked: boolean
  /** how many times it was asked again after going past the ballot (a ballot or vote lost on a loaded network) */
  reasks: number
  /** it said its queue was full: sent the ballot again once it has made room */
  busy: boolean
  /** silent for `silenceMs` after being asked again: no longer waited for */
  gaveUp: boolean
}

interface Poll {
  task: CriticalTask
  /** when the task was handed to the quorum, and when its first ballot went out (performance.now()) */
  began: number
  ballotAt: number
  /** when the vote being counted arrived (performance.now()) */
  arrived?: number
  round: number
  voters: string[]
  asked: Map<string, Asked>
  /** every distinct vote per voter (two or more: equivocation) */
  votes: Map<string, SignedVote[]>
  equivocators: Set<string>
  /** answers whose 2f+1 votes made a certificate that would not verify: they do not count toward a quorum */
  failed: Set<string>
  done: boolean
}

/**
 * Where a ballot's time goes, on this node: as an origin, the wait for voters with room (queued), the
 * time from the first ballot to the certificate, and from a ballot to each vote; as a voter, the wait
 * in its queue, the image fetch, the reading, and signing and publishing.
 */
export interface QuorumTimings {
  origin: { queuedMs: TimingSummary, ballotToCertificateMs: TimingSummary, ballotToVoteMs: TimingSummary, certified: number, noConsensus: number, grown: number, suspected: number, queued: number, open: number }
  voter: { waitMs: TimingSummary, fetchMs: TimingSummary, readMs: TimingSummary, publishMs: TimingSummary, readings: number, busy: number }
}

/** About what a vote takes in memory: its strings (two bytes a character at worst) and the object around them. */
function voteBytes (v: SignedVote): number {
  return 2 * (v.task.length + v.image.length + v.model.length + v.latex.length + v.voter.length + v.sig.length) + 160
}

type BallotMessage = z.infer<typeof Ballot>

export class QuorumService {
  private readonly self: string
  private readonly f: number
  private readonly maxVoters: number
  private readonly silenceMs: number
  private readonly concurrency: number
  private readonly polls = new Map<string, Poll>()
  /** critical tasks waiting to be put to a vote (in order), with when they came */
  private readonly queued = new Map<string, { task: CriticalTask, since: number }>()
  /** why the queued tasks wait (too few members online, or every voter's window full) */
  private queueReason = ''
  private paused = false
  /** this node's votes by task and image (task!image), recently used: a repeated ballot gets them again, never a new vote */
  private readonly cast = new Map<string, { votes: SignedVote[], at: number }>()
  private readonly ledger: VoteLedger
  /** ballots being voted on (waiting or read now), with every member that sent that ballot (the image is fetched from the first that has it) */
  private readonly voting = new Map<string, string[]>()
  private readonly pendingByOrigin = new Map<string, number>()
  /** a voter's pipeline: ballots being fetched or waiting to be read (reading slots plus FETCH_AHEAD), and reading slots (its workers) */
  private readonly preparing: FairSlots
  private readonly readingSlots: FairSlots
  private busyTokens = BUSY_PER_SECOND
  private busyRefilled = Date.now()
  /** equivocators seen anywhere (their votes never count) */
  readonly equivocators = new Set<string>()
  /** every verified vote of recent tasks, by task and VOTER!IMAGE!MODEL, to catch equivocation on any task; oldest task first */
  private readonly recent = new Map<string, { byVoter: Map<string, SignedVote[]>, bytes: number, at: number }>()
  private recentBytes = 0
  /** tasks this node has voted on (their votes in `recent` are kept to the byte bound, not to FOREIGN_VOTES_MS) */
  private readonly votedTasks = new Set<string>()
  /**
   * per voter: when a fresh vote of it last arrived (performance.now()), how many fresh votes it has
   * signed, the newest signing time seen, and its own typical time from ballot (or its previous vote)
   * to vote. Fresh: signed after every vote of it seen before, and recently, so replayed old votes
   * (anyone can relay them) never count as progress.
   */
  private readonly progress = new Map<string, { at: number, count: number, newest: number, typical?: number }>()
  /** per voter: how often its votes disagreed with certified answers lately (see DISSENT_HALF_LIFE_MS) */
  private readonly dissent = new Map<string, { score: number, at: number }>()
  /** voters suspected on one of this node's ballots and not heard from on one since: chosen last */
  private readonly suspects = new Set<string>()
  private waitTimer: ReturnType<typeof setInterval> | undefined
  private sweepTimer: ReturnType<typeof setInterval> | undefined
  private sweeping = false
  /** ms from the arrival of the vote that completed a quorum to the certificate, most recent last */
  readonly formationMs: number[] = []
  private readonly timing = {
    queued: new Samples(),
    toCertificate: new Samples(),
    toVote: new Samples(),
    /** from the later of the ballot and the voter's previous vote to its vote: a voter's time per ballot, which suspicion scales with */
    service: new Samples(256),
    wait: new Samples(),
    fetch: new Samples(),
    read: new Samples(),
    publish: new Samples()
  }

  private readonly counts = { certified: 0, noConsensus: 0, grown: 0, suspected: 0, readings: 0, busy: 0 }
  private stopped = false
  private started = false

  constructor (private readonly node: Libp2p<{ pubsub: GossipSub }>, private readonly init: QuorumInit) {
    this.self = node.peerId.toString()
    this.f = init.f ?? DEFAULT_F
    this.maxVoters = init.maxVoters ?? 3 * this.f + 1 + 3
    this.silenceMs = init.silenceMs ?? DEFAULT_SILENCE_MS
    this.concurrency = Math.max(1, init.concurrency ?? 1)
    this.preparing = new FairSlots(this.concurrency + FETCH_AHEAD)
    this.readingSlots = new FairSlots(this.concurrency)
    this.ledger = init.ledger ?? new MemoryVoteLedger(REMEMBERED_VOTES)
    this.onMessage = this.onMessage.bind(this)
  }

  get needed (): number { return 2 * this.f + 1 }
  get size (): number { return 3 * this.f + 1 }

  /** Idempotent. */
  start (): void {
    if (this.started || this.stopped) return
    this.started = true
    this.node.services.pubsub.subscribe(VOTES_TOPIC)
    this.node.services.pubsub.addEventListener('message', this.onMessage)
    this.waitTimer = setInterval(() => { this.pump() }, WAIT_POLL_MS)
    this.waitTimer.unref()
    this.sweepTimer = setInterval(() => { this.sweep() }, Math.min(SWEEP_MS, this.silenceMs))
    this.sweepTimer.unref()
  }

  /** Stop voting; a vote under way is dropped before it is signed into the ledger. Idempotent. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    if (this.waitTimer != null) clearInterval(this.waitTimer)
    if (this.sweepTimer != null) clearInterval(this.sweepTimer)
    if (!this.started) return
    this.node.services.pubsub.removeEventListener('message', this.onMessage)
    this.node.services.pubsub.unsubscribe(VOTES_TOPIC)
  }

  /** Hold (or release) this node's queued critical tasks: no new ballots go out while held (simnet). */
  pause (paused: boolean): void {
    this.paused = paused
    if (!paused) this.pump()
  }

  /** Where a critical task of this node stands. */
  stateOf (task: string): QuorumState | undefined {
    if (this.queued.has(task)) return { state: 'waiting', reason: this.queueReason }
    const p = this.polls.get(task)
    if (p == null) return undefined
    return {
      state: 'voting',
      round: p.round,
      voters: p.voters,
      votes: [...p.votes.keys()].filter(v => !this.equivocators.has(v)).length,
      needed: this.needed,
      suspected: [...p.asked].filter(([v, a]) => a.suspected && !p.votes.has(v)).map(([v]) => v)
    }
  }

  /** Stop voting on a task that finished another way (a certified result from elsewhere). */
  end (task: string): void {
    this.queued.delete(task)
    const poll = this.polls.get(task)
    if (poll == null) return
    poll.done = true
    this.polls.delete(task)
    this.pump()
  }

  /** Put one of this node's critical tasks to a vote (again, after this node restarted): queued until voters have room. */
  begin (task: CriticalTask): void {
    if (this.polls.has(task.id) || this.queued.has(task.id) || this.stopped) return
    this.queued.set(task.id, { task, since: performance.now() })
    this.pump()
  }

  /** Members that can hear a ballot now: subscribed to the vote topic (or this node), not caught equivocating. */
  private eligibleVoters (): string[] {
    const listening = new Set(this.node.services.pubsub.getSubscribers(VOTES_TOPIC).map(String))
    return [...new Set(this.init.eligible())].filter(p => (p === this.self || listening.has(p)) && !this.equivocators.has(p))
  }

  /** Ballots of this node's open polls that each voter holds and has not answered (not those it refused as busy or was given up on). */
  private inFlight (): Map<string, number> {
    const load = new Map<string, number>()
    for (const poll of this.polls.values()) {
      for (const [voter, a] of poll.asked) {
        if (poll.votes.has(voter) || a.busy || a.gaveUp) continue
        load.set(voter, (load.get(voter) ?? 0) + 1)
      }
    }
    return load
  }

  /**
   * Candidates in the order they should be asked: not suspected first, then the least loaded, then
   * this node (it holds the image, and its own reading gives the certified result its regions), ties
   * at random.
   */
  private rank (candidates: string[], load: Map<string, number>): string[] {
    return rankVoters(candidates, p => ({ suspected: this.suspects.has(p), dissenter: this.dissenter(p), load: load.get(p) ?? 0, self: p === this.self }), this.init.random ?? Math.random)
  }

  /** Did this voter's votes disagree with certified answers lately? (Chosen last, and one ballot at a time: a wrong voter on a ballot costs extra readings.) */
  private dissenter (voter: string): boolean {
    const d = this.dissent.get(voter)
    if (d == null) return false
    return dissentNow(d.score, d.at, performance.now()) >= 0.5
  }

  /** The ballots a voter may hold: VOTER_WINDOW, or one while it dissents or is suspected. */
  private windowOf (voter: string): number {
    return this.dissenter(voter) || this.suspects.has(voter) ? 1 : VOTER_WINDOW
  }

  /** Put queued tasks to a vote while enough voters have room in their windows (backpressure). */
  private pump (): void {
    if (this.stopped || this.paused || this.queued.size === 0) return
    const eligible = this.eligibleVoters()
    // Members online but not asked (proven to equivocate, or connected but not heard on the vote topic:
    // gossipsub shuts out a peer that floods it): when only they make the network short, votes go
    // ahead with the others (a certificate still needs 2f+1 matching votes, so safety holds).
    const listening = new Set(eligible)
    const excluded = [...new Set(this.init.eligible())].filter(p => !listening.has(p)).length
    const enough = eligible.length >= this.size || (eligible.length >= this.needed && eligible.length + excluded >= this.size)
    if (!enough) {
      const reason = `waiting for voters: ${this.size} members needed for f = ${this.f}, ${eligible.length} online${excluded > 0 ? ` (and ${excluded} excluded: equivocating, or not heard on the vote topic)` : ''}`
      if (this.queueReason !== reason) this.init.log.info({ queued: this.queued.size, online: eligible.length, needed: this.size }, 'critical tasks wait for voters')
      this.queueReason = reason
      return
    }
    const load = this.inFlight()
    // While enough voters agree with certified answers, ballots wait for their room rather than go to
    // dissenters: a dissenter on a ballot costs its reading and an honest one more.
    const trusted = eligible.filter(p => !this.dissenter(p))
    const pool = trusted.length >= this.needed ? trusted : eligible
    for (const [id, { task, since }] of this.queued) {
      const room = this.rank(pool.filter(p => (load.get(p) ?? 0) < this.windowOf(p)), load)
      if (room.length < this.needed) {
        this.queueReason = `queued: voters busy (${this.polls.size} ballots open, at most ${VOTER_WINDOW} in flight to a voter)`
        return
      }
      this.queued.delete(id)
      const voters = room.slice(0, this.needed)
      for (const v of voters) load.set(v, (load.get(v) ?? 0) + 1)
      const now = performance.now()
      this.timing.queued.add(now - since)
      const poll: Poll = { task, began: since, ballotAt: now, round: 1, voters: [], asked: new Map(), votes: new Map(), equivocators: new Set(), failed: new Set(), done: false }
      this.polls.set(id, poll)
      this.ask(poll, voters)
    }
  }

  /** Add voters to a poll (none: ask the ones not yet heard from again) and publish its ballot. */
  private ask (poll: Poll, more: string[]): void {
    const now = performance.now()
    for (const v of more) {
      poll.voters.push(v)
      poll.asked.set(v, { at: now, count: this.progress.get(v)?.count ?? 0, suspected: false, reasked: false, reasks: 0, busy: false, gaveUp: false })
    }
    const ballot = { kind: 'ballot', task: poll.task.id, image: poll.task.image, model: this.init.model, file: poll.task.file, voters: poll.voters, round: poll.round }
    this.node.services.pubsub.publish(VOTES_TOPIC, encodeJson(ballot)).catch(err => { this.init.log.debug({ err: (err as Error).message }, 'publishing a ballot failed') })
    this.init.log.debug({ task: poll.task.id, round: poll.round, voters: poll.voters.length }, 'ballot out')
    // This node votes on its own ballot too when chosen (gossipsub does not deliver our own messages);
    // its own queue being full is its own "busy".
    const own = poll.asked.get(this.self)
    if (own != null && !poll.votes.has(this.self) && !this.enqueueVote(this.self, Ballot.parse(ballot))) this.refused(poll, this.self, own)
  }

  /** The time after which a voter without progress is suspected: a few of its typical times per ballot (or all voters' median, `median`, whichever is longer). */
  private suspectMs (voter: string, median: number): number {
    return suspicionMs(this.progress.get(voter)?.typical ?? 0, median, this.silenceMs)
  }

  /** Look at every open ballot for voters that stopped making progress. */
  private sweep (): void {
    if (this.sweeping || this.stopped) return
    this.sweeping = true
    const run = async (): Promise<void> => {
      const now = performance.now()
      const median = this.timing.service.median() ?? 0
      for (const poll of [...this.polls.values()]) {
        if (poll.done) continue
        let changed = false
        let reask = false
        for (const [voter, a] of poll.asked) {
          if (poll.votes.has(voter) || this.equivocators.has(voter) || a.gaveUp) continue
          const p = this.progress.get(voter)
          const quiet = now - Math.max(a.at, p?.at ?? 0)
          const skipped = (p?.count ?? 0) - a.count > SKIP_VOTES
          if (a.busy) {
            // It refused the ballot: sent again once it has made room, given up only if it falls silent.
            if (quiet > this.silenceMs) {
              a.gaveUp = true
              changed = true
            } else if ((p?.count ?? 0) - a.count >= BUSY_RETRY_VOTES || quiet > this.suspectMs(voter, median)) {
              a.busy = false
              a.at = now
              a.count = p?.count ?? 0
              reask = true
            }
            continue
          }
          if (!a.suspected) {
            if (quiet <= this.suspectMs(voter, median) && !skipped) continue
            a.suspected = true
            this.suspects.add(voter)
            this.counts.suspected++
            this.init.log.info({ task: poll.task.id, voter, quietMs: Math.round(quiet), skipped }, 'a voter is suspected of silence: asked again, and the ballot grows')
            changed = true
          }
          if (!a.reasked) {
            // A voter may simply have missed the ballot: asked once more, from now on.
            a.reasked = true
            a.at = now
            a.count = p?.count ?? 0
            reask = true
          } else if (skipped && a.reasks < MAX_REASKS) {
            // Alive, but past the ballot without a vote on it: the ballot or the vote may have been lost.
            a.reasks++
            a.at = now
            a.count = p?.count ?? 0
            reask = true
          } else if (quiet > this.silenceMs || skipped) {
            a.gaveUp = true
            changed = true
          }
        }
        const round = poll.round
        if (changed) await this.grow(poll)
        // Growing published the ballot again; otherwise it goes out again now for the voters asked again.
        if (reask && !poll.done && poll.round === round) this.ask(poll, [])
      }
    }
    run().catch(err => { this.init.log.warn({ err: (err as Error).message }, 'looking at open ballots failed') }).finally(() => { this.sweeping = false })
  }

  private onMessage (evt: CustomEvent<Message>): void {
    const msg = evt.detail
    if (msg.topic !== VOTES_TOPIC || msg.type !== 'signed') return
    const from = msg.from.toString()
    if (msg.data.length > MAX_VOTE_MESSAGE_BYTES) {
      this.init.log.debug({ peer: from, bytes: msg.data.length }, 'refused an oversized vote message')
      return
    }
    let json: unknown
    try {
      json = decodeJson(msg.data)
    } catch {
      this.init.log.debug({ peer: from }, 'refused an unreadable vote message')
      return
    }
    const ballot = Ballot.safeParse(json)
    if (ballot.success) {
      if (ballot.data.voters.includes(this.self) && this.init.isMember(from)) void this.enqueueVote(from, ballot.data)
      return
    }
    const vote = VoteMessage.safeParse(json)
    if (vote.success) {
      this.receiveVote(vote.data.vote, performance.now()).catch(err => { this.init.log.warn({ err: (err as Error).message }, 'counting a vote failed') })
      return
    }
    const busy = BusyMessage.safeParse(json)
    if (busy.success) {
      this.onBusy(from, busy.data.task, busy.data.image).catch(err => { this.init.log.warn({ err: (err as Error).message }, 'handling a busy voter failed') })
      return
    }
    this.init.log.debug({ peer: from }, 'refused a malformed vote message')
  }

  /** A voter on one of this node's ballots says its queue is full: the ballot grows now rather than wait for it. */
  private async onBusy (from: string, task: string, image: string): Promise<void> {
    const poll = this.polls.get(task)
    const a = poll?.asked.get(from)
    if (poll == null || a == null || poll.done || poll.task.image !== image || poll.votes.has(from) || a.busy) return
    await this.refused(poll, from, a)
  }

  /** A voter refused a ballot (its queue is full): counted as not coming for now, sent again once it has room. */
  private async refused (poll: Poll, voter: string, a: Asked): Promise<void> {
    if (!a.suspected) this.counts.suspected++
    a.suspected = true
    a.reasked = true
    a.busy = true
    a.at = performance.now()
    a.count = this.progress.get(voter)?.count ?? 0
    this.init.log.debug({ task: poll.task.id, voter }, 'a voter is busy: the ballot grows')
    await this.grow(poll)
  }

  /**
   * A ballot naming this node: vote once per task and image (`concurrency` ballots at a time, in the
   * order they came, bounded in number), or, for one it has already voted on (the origin restarted or
   * asks again), publish the same votes again, even after a restart with another model.
   */
  private enqueueVote (origin: string, ballot: BallotMessage): boolean {
    const key = `${ballot.task}!${ballot.image}`
    const cast = this.cast.get(key)
    if (cast != null) {
      this.republish(cast)
      return true
    }
    const fromOrigin = this.pendingByOrigin.get(origin) ?? 0
    const senders = this.voting.get(key)
    if (senders != null) {
      // The same ballot from another member (any member may send one naming a task and image): one
      // vote still, but its image may come from there too, should the first sender not have it.
      if (!senders.includes(origin) && senders.length < 4) senders.push(origin)
      return true
    }
    if (this.stopped) return true
    if (this.voting.size >= MAX_PENDING_BALLOTS || fromOrigin >= MAX_PENDING_BALLOTS_PER_ORIGIN) {
      this.init.log.debug({ origin, task: ballot.task }, 'too many ballots waiting: this one is refused (busy)')
      if (origin !== this.self) this.sayBusy(ballot)
      return false
    }
    this.voting.set(key, [origin])
    this.pendingByOrigin.set(origin, fromOrigin + 1)
    this.vote(origin, ballot, key, performance.now()).catch(() => {}).finally(() => {
      this.voting.delete(key)
      const left = (this.pendingByOrigin.get(origin) ?? 1) - 1
      if (left <= 0) this.pendingByOrigin.delete(origin)
      else this.pendingByOrigin.set(origin, left)
    })
    return true
  }

  /** Tell a ballot's origin this node's queue is full (rate-limited). */
  private sayBusy (ballot: BallotMessage): void {
    const now = Date.now()
    this.busyTokens = Math.min(BUSY_PER_SECOND, this.busyTokens + (now - this.busyRefilled) * BUSY_PER_SECOND / 1000)
    this.busyRefilled = now
    if (this.busyTokens < 1) return
    this.busyTokens--
    this.counts.busy++
    void this.node.services.pubsub.publish(VOTES_TOPIC, encodeJson({ kind: 'busy', task: ballot.task, image: ballot.image })).catch(() => {})
  }

  /** This node's votes on a ballot again, for a ballot that asks again. */
  private republish (cast: { votes: SignedVote[], at: number }): void {
    if (Date.now() - cast.at < REPUBLISH_MS) return
    cast.at = Date.now()
    for (const v of cast.votes) void this.node.services.pubsub.publish(VOTES_TOPIC, encodeJson({ kind: 'vote', vote: v })).catch(() => {})
  }

  private remember (key: string, cast: { votes: SignedVote[], at: number }): void {
    this.cast.set(key, cast)
    for (const v of cast.votes) this.votedTasks.add(v.task)
    for (const [old, c] of this.cast) {
      if (this.cast.size <= REMEMBERED_VOTES) break
      this.cast.delete(old)
      for (const v of c.votes) this.votedTasks.delete(v.task)
    }
  }

  /**
   * Recognise the ballot's image and publish a signed vote (recorded in the ledger first). A pipeline,
   * each origin's ballots in the order they came, origins taking turns (FairSlots: one slow to serve
   * its images, or with many ballots, does not hold up the others): the image is fetched while earlier
   * ballots are read, a reading slot
   * is held only while reading, and signing and publishing happen outside it.
   */
  private async vote (origin: string, ballot: BallotMessage, key: string, queuedAt: number): Promise<void> {
    if (this.stopped) return
    let t0 = 0
    let t1 = 0
    let t2 = 0
    let fetchMs = 0
    let r: Recognition
    await this.preparing.take(origin)
    try {
      if (this.stopped) return
      const earlier = await this.ledger.get(key)
      if (earlier != null) {
        // Voted before this node last started: the same votes again, never new ones.
        const cast = { votes: earlier, at: 0 }
        this.remember(key, cast)
        this.republish(cast)
        return
      }
      t0 = performance.now()
      let image: Uint8Array | undefined
      const failures: string[] = []
      for (const from of this.voting.get(key) ?? [origin]) {
        try {
          image = from === this.self ? await this.init.localImage(ballot.image) : await this.init.blobs.fetch(peerIdFromString(from), ballot.image)
        } catch (err) {
          failures.push((err as Error).message)
        }
        if (image != null) break
      }
      if (image == null) throw new Error(`image ${ballot.image} is not here${failures.length > 0 ? ` (${failures.join('; ')})` : ''}`)
      fetchMs = performance.now() - t0
      // One owner: reading slots go first come, first served (the turns were taken for the pipeline).
      await this.readingSlots.take('')
      try {
        if (this.stopped) return
        t1 = performance.now()
        r = await this.init.recognise(image, ballot.file)
        t2 = performance.now()
      } finally {
        this.readingSlots.give('')
      }
    } catch (err) {
      this.init.log.warn({ task: ballot.task, err: (err as Error).message }, 'could not vote')
      return
    } finally {
      this.preparing.give(origin)
    }
    try {
      const honest = await signVote(this.init.key, { task: ballot.task, image: ballot.image, model: r.model, latex: r.latex, confidence: r.confidence, voter: this.self, time: Date.now() })
      const publish = async (bytes: Uint8Array): Promise<void> => { await this.node.services.pubsub.publish(VOTES_TOPIC, bytes).then(() => {}, () => {}) }
      const votes = this.init.tamper != null ? await this.init.tamper(honest, { voters: ballot.voters, publish }) : [honest]
      if (this.stopped) return // the ledger may be closed; the origin asks again
      if (votes.length > 0) await this.ledger.put(key, votes)
      this.remember(key, { votes, at: Date.now() })
      for (const v of votes) {
        await this.node.services.pubsub.publish(VOTES_TOPIC, encodeJson({ kind: 'vote', vote: v })).catch(() => {})
        await this.receiveVote(v)
      }
      this.timing.wait.add(t1 - queuedAt - fetchMs)
      this.timing.fetch.add(fetchMs)
      this.timing.read.add(t2 - t1)
      this.timing.publish.add(performance.now() - t2)
      this.counts.readings++
    } catch (err) {
      this.init.log.warn({ task: ballot.task, err: (err as Error).message }, 'could not vote')
    }
  }

  /** A vote from the network (or this node): counted by the origin of its task. */
  private async receiveVote (input: unknown, arrived = performance.now()): Promise<void> {
    const check = await verifyVote(input)
    if (!check.ok) {
      this.init.log.debug({ reason: check.reason, detail: check.detail }, 'refused a vote')
      return
    }
    const v = check.vote
    if (!this.init.isMember(v.voter)) {
      this.init.log.debug({ task: v.task, voter: v.voter }, 'ignored a vote from a non-member')
      return
    }
    // Equivocation is caught on any task this node sees votes for, not only its own.
    let entry = this.recent.get(v.task)
    if (entry == null) this.recent.set(v.task, entry = { byVoter: new Map(), bytes: 0, at: Date.now() })
    const byVoter = entry.byVoter
    // Votes are compared within one voter, image and model: only there do two answers conflict.
    const ballotKey = `${v.voter}!${v.image}!${v.model}`
    const seen = byVoter.get(ballotKey) ?? []
    if (seen.some(m => m.sig === v.sig)) return // a replay or a duplicate delivery
    const conflicting = seen.find(m => isEquivocation(m, v))
    if (conflicting == null && seen.length > 0) return // the same vote signed again (a re-vote after a restart)
    if (seen.length > 0 || byVoter.size < MAX_BALLOTS_PER_TASK) {
      const kept = [...seen, v].slice(-4)
      const delta = kept.reduce((n, x) => n + voteBytes(x), 0) - seen.reduce((n, x) => n + voteBytes(x), 0)
      byVoter.set(ballotKey, kept)
      entry.bytes += delta
      this.recentBytes += delta
      this.trimRecent(v.task)
    }
    // A fresh vote: the voter is making progress (whatever the task), so its ballots here are not silent.
    const before = this.progress.get(v.voter)
    const fresh = v.time > (before?.newest ?? 0) && Math.abs(Date.now() - v.time) < 2 * this.silenceMs
    if (fresh) {
      this.progress.delete(v.voter)
      this.progress.set(v.voter, { at: arrived, count: (before?.count ?? 0) + 1, newest: v.time, ...(before?.typical != null ? { typical: before.typical } : {}) })
      for (const old of this.progress.keys()) { if (this.progress.size <= MAX_TRACKED_VOTERS) break; this.progress.delete(old) }
    }
    if (conflicting != null && !this.equivocators.has(v.voter)) {
      this.equivocators.add(v.voter)
      this.init.log.warn({ voter: v.voter, task: v.task }, 'equivocation: two different signed votes on one task')
      await this.init.onEquivocation(conflicting, v).catch(err => { this.init.log.warn({ err }, 'storing equivocation evidence failed') })
    }
    const poll = this.polls.get(v.task)
    if (poll == null || poll.done) return
    const asked = poll.asked.get(v.voter)
    if (asked == null || v.image !== poll.task.image) {
      this.init.log.debug({ task: v.task, voter: v.voter }, 'ignored a vote from a voter not on the ballot')
      return
    }
    const had = poll.votes.get(v.voter) ?? []
    // A second copy of a vote it holds, or the same answer signed again, changes nothing; only a conflicting one (equivocation) is added.
    if (had.some(m => m.sig === v.sig || !isEquivocation(m, v))) return
    if (had.length === 0) {
      this.timing.toVote.add(arrived - asked.at)
      if (!asked.suspected && fresh) {
        const service = arrived - Math.max(asked.at, before?.at ?? 0)
        this.timing.service.add(service)
        const p = this.progress.get(v.voter)
        if (p != null) p.typical = p.typical == null ? service : 0.8 * p.typical + 0.2 * service
      }
      this.suspects.delete(v.voter)
    }
    poll.votes.set(v.voter, [...had, v].slice(0, 4))
    if (conflicting != null) poll.equivocators.add(v.voter)
    poll.arrived = arrived
    await this.tally(poll)
    this.pump()
  }

  /**
   * Keep `recent` within RECENT_TASKS and MAX_RECENT_VOTE_BYTES, dropping the oldest tasks first,
   * and drop tasks this node neither originates nor voted on once FOREIGN_VOTES_MS old. The task
   * a vote has just come in for stays (its votes are one task's: at most a few MiB).
   */
  private trimRecent (current: string): void {
    const now = Date.now()
    for (const [task, e] of this.recent) {
      const over = this.recent.size > RECENT_TASKS || this.recentBytes > MAX_RECENT_VOTE_BYTES
      const stale = now - e.at > FOREIGN_VOTES_MS && !this.polls.has(task) && !this.votedTasks.has(task)
      if (!over && !stale) break
      // The task a vote just came for, and this node's open ballots (bounded by the voters' windows), stay.
      if (task === current || this.polls.has(task)) continue
      this.recent.delete(task)
      this.recentBytes -= e.bytes
    }
  }

  /** Bytes of votes kept to catch equivocation, and on how many tasks (for tests and status). */
  recentVotes (): { tasks: number, bytes: number } {
    return { tasks: this.recent.size, bytes: this.recentBytes }
  }

  /** Where ballots' time goes on this node (see QuorumTimings). */
  timings (): QuorumTimings {
    const t = this.timing
    return {
      origin: { queuedMs: t.queued.summary(), ballotToCertificateMs: t.toCertificate.summary(), ballotToVoteMs: t.toVote.summary(), certified: this.counts.certified, noConsensus: this.counts.noConsensus, grown: this.counts.grown, suspected: this.counts.suspected, queued: this.queued.size, open: this.polls.size },
      voter: { waitMs: t.wait.summary(), fetchMs: t.fetch.summary(), readMs: t.read.summary(), publishMs: t.publish.summary(), readings: this.counts.readings, busy: this.counts.busy }
    }
  }

  /** A certificate formed: voters on its ballot whose votes disagreed with it are remembered as dissenters for a while. */
  private noteDissent (poll: Poll, latex: string): void {
    const now = performance.now()
    for (const [voter, votes] of poll.votes) {
      if (this.equivocators.has(voter)) continue
      const agreed = votes.length === 1 && votes[0]!.latex === latex && votes[0]!.model === this.init.model
      if (agreed) continue
      const d = this.dissent.get(voter)
      const score = (d == null ? 0 : dissentNow(d.score, d.at, now)) + 1
      this.dissent.delete(voter)
      this.dissent.set(voter, { score, at: now })
      for (const old of this.dissent.keys()) { if (this.dissent.size <= MAX_TRACKED_VOTERS) break; this.dissent.delete(old) }
    }
  }

  private counted (poll: Poll): SignedVote[] {
    const out: SignedVote[] = []
    for (const [voter, votes] of poll.votes) {
      if (this.equivocators.has(voter) || votes.length !== 1) continue
      if (votes[0]!.model !== this.init.model) continue
      out.push(votes[0]!)
    }
    return out
  }

  private async tally (poll: Poll): Promise<void> {
    if (poll.done || this.stopped) return
    for (const { latex, votes } of quorums(this.counted(poll), this.needed, poll.failed)) {
      poll.done = true
      const certificate: QuorumCertificate = {
        v: 1,
        task: poll.task.id,
        image: poll.task.image,
        model: this.init.model,
        latex,
        f: this.f,
        network: this.init.network,
        votes,
        members: this.init.network == null ? [] : votes.map(v => this.init.certificateOf(v.voter)).filter((c): c is string => c != null)
      }
      const confidence = median(votes.map(v => v.confidence))
      if (poll.arrived != null) {
        this.formationMs.push(performance.now() - poll.arrived)
        if (this.formationMs.length > 10_000) this.formationMs.shift()
      }
      // Issued only if it passes the check every reader applies (a voter's membership certificate may be missing here).
      const check = await this.init.checkCertificate(certificate).catch((err: unknown): QuorumCheck => ({ ok: false, reason: 'malformed', detail: (err as Error).message }))
      if (!check.ok) {
        poll.done = false
        // Those votes do not count toward a quorum for this answer: the ballot grows instead.
        poll.failed.add(latex)
        this.init.log.warn({ task: poll.task.id, reason: check.reason, detail: check.detail }, 'a quorum was reached but its certificate would not verify; asking more voters')
        continue
      }
      this.noteDissent(poll, latex)
      this.init.log.info({ task: poll.task.id, votes: votes.length, latex }, 'quorum certificate formed')
      this.timing.toCertificate.add(performance.now() - poll.ballotAt)
      this.counts.certified++
      try {
        await this.init.onCertified(poll.task, certificate, confidence)
      } finally {
        this.polls.delete(poll.task.id)
        this.pump()
      }
      return
    }
    await this.grow(poll)
  }

  /**
   * No quorum yet: when the votes in and the voters still awaited (not suspected) cannot make one,
   * ask as many more members as it lacks; with nobody left to ask and nobody left to wait for, the
   * task ends with "no consensus".
   */
  private async grow (poll: Poll): Promise<void> {
    if (poll.done || this.stopped) return
    const awaited = poll.voters.filter(v => !poll.votes.has(v) && !this.equivocators.has(v) && poll.asked.get(v)?.suspected !== true)
    const lacking = votersLacking(this.counted(poll), poll.failed, awaited.length, this.needed)
    if (lacking <= 0) return
    const fresh = this.eligibleVoters().filter(p => !poll.asked.has(p))
    const more = this.rank(fresh, this.inFlight()).slice(0, Math.min(this.maxVoters - poll.voters.length, lacking))
    if (more.length > 0) {
      poll.round++
      this.counts.grown++
      this.init.log.info({ task: poll.task.id, round: poll.round, added: more.length, votes: poll.votes.size }, 'no agreement yet: more voters')
      this.ask(poll, more)
      return
    }
    // Nobody left to ask: wait for suspected voters until they are given up on.
    const waitingFor = poll.voters.filter(v => !poll.votes.has(v) && !this.equivocators.has(v) && poll.asked.get(v)?.gaveUp !== true)
    if (waitingFor.length > 0) return
    poll.done = true
    const votes = [...poll.votes.values()].flat()
    this.counts.noConsensus++
    this.init.log.warn({ task: poll.task.id, votes: votes.length }, 'no consensus')
    try {
      await this.init.onNoConsensus(poll.task, votes)
    } finally {
      this.polls.delete(poll.task.id)
      this.pump()
    }
  }
}

export { SignedVote as SignedVoteSchema }
