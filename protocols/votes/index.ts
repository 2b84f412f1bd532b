/**
 * The Byzantine quorum for critical images.
 *
 * The origin of a critical task picks n = 3f+1 distinct members (itself
 * included when it is one) and publishes a ballot on VOTES_TOPIC: task, image
 * hash, model version, voters. Each chosen voter fetches the image from the
 * origin (blob protocol), recognises it, signs a vote and publishes it on the
 * same topic. The origin counts verified votes from ballot voters; 2f+1 for
 * the same normalised LaTeX form a quorum certificate. A voter that signs two
 * different votes for one task is an equivocator: both votes are kept as
 * evidence and its votes stop counting. With no agreement once every voter
 * has voted (or after a deadline), the ballot grows by more voters up to
 * `maxVoters`; then the task ends with "no consensus" and its votes.
 *
 * Messages (JSON; gossipsub signs them, so the sender is known):
 *   {"kind": "ballot", "task", "image", "model", "file", "voters": [PEER...], "round"}
 *   {"kind": "vote", "vote": SignedVote}
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, Ed25519PrivateKey } from '@libp2p/interface'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { z } from 'zod'
import { decodeJson, encodeJson } from '../json.js'
import type { BlobService } from '../blob/index.js'
import { DEFAULT_F, SignedVote, isEquivocation, signVote, verifyVote, type QuorumCertificate, type QuorumCheck } from './vote.js'
import { MemoryVoteLedger, type VoteLedger } from './ledger.js'

export * from './vote.js'

export const VOTES_TOPIC = 'texmesh/votes/1'
/** A ballot or a vote is well under 8 KiB (a vote carries at most 4 KiB of LaTeX). */
export const MAX_VOTE_MESSAGE_BYTES = 8 * 1024
/** How long a round waits for silent voters before the ballot grows. */
export const DEFAULT_ROUND_MS = 30_000
/** Votes of this many recent tasks are kept to catch equivocation. */
export const RECENT_TASKS = 2048
/**
 * The bytes those votes may take, all tasks together (a vote with 4 KiB of LaTeX is about 9 KiB
 * in memory): the oldest tasks go first, so a flood of valid votes cannot grow the heap.
 */
export const MAX_RECENT_VOTE_BYTES = 8 * 1024 * 1024
/** Votes on a task this node neither originates nor votes on are kept this long: a few rounds, to catch equivocation. */
export const FOREIGN_VOTES_MS = 5 * 60_000
/** This node's own votes on this many recent ballots are kept, to be published again when a ballot is repeated. */
export const REMEMBERED_VOTES = 4096
/** Per task, the voter-image-model combinations whose votes are kept to catch equivocation (a voter can sign votes on any image) */
const MAX_BALLOTS_PER_TASK = 1024
/** Ballots waiting for this node's vote, in all and from one origin: a member sending ballots in bulk cannot make it work without end. */
export const MAX_PENDING_BALLOTS = 64
export const MAX_PENDING_BALLOTS_PER_ORIGIN = 16
/** A repeated ballot gets this node's vote again at most this often. */
export const REPUBLISH_MS = 2_000
/** How often a task waiting for enough online members looks again. */
export const WAIT_POLL_MS = 2_000

export interface QuorumLog {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface Recognition { latex: string, confidence: number, model: string }

export interface CriticalTask { id: string, image: string, file: string }

export type QuorumState =
  | { state: 'waiting', reason: string }
  | { state: 'voting', round: number, voters: string[], votes: number, needed: number }
  | { state: 'certified', voters: string[] }
  | { state: 'no-consensus', votes: SignedVote[] }

export interface QuorumInit {
  /** faults tolerated: n = 3f+1 voters, 2f+1 matching votes certify @default DEFAULT_F */
  f?: number
  /** the most voters a ballot may grow to @default 3f+1+3 */
  maxVoters?: number
  /** @default DEFAULT_ROUND_MS */
  roundMs?: number
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
  /**
   * simnet's Byzantine voters: given the honest vote, return the votes to
   * publish instead (none: stay silent); `publish` sends raw bytes on the topic.
   */
  tamper?: (honest: SignedVote, ctx: { voters: string[], publish: (bytes: Uint8Array) => Promise<void> }) => Promise<SignedVote[]>
  log: QuorumLog
}

const Ballot = z.object({
  kind: z.literal('ballot'),
  task: z.string().min(1).max(64),
  image: z.string().regex(/^[0-9a-f]{64}$/),
  model: z.string().min(1).max(128),
  file: z.string().max(1024),
  voters: z.array(z.string().max(128)).min(1).max(64),
  round: z.number().int().min(1).max(64)
}).strict()
const VoteMessage = z.object({ kind: z.literal('vote'), vote: z.unknown() }).strict()

interface Poll {
  task: CriticalTask
  /** when the vote being counted arrived (performance.now()) */
  arrived?: number
  round: number
  voters: string[]
  /** every distinct vote per voter (two or more: equivocation) */
  votes: Map<string, SignedVote[]>
  equivocators: Set<string>
  timer?: ReturnType<typeof setTimeout>
  done: boolean
  /** the ballot was published again to its silent voters */
  reasked: boolean
}


/** About what a vote takes in memory: its strings (two bytes a character at worst) and the object around them. */
function voteBytes (v: SignedVote): number {
  return 2 * (v.task.length + v.image.length + v.model.length + v.latex.length + v.voter.length + v.sig.length) + 160
}

export class QuorumService {
  private readonly self: string
  private readonly f: number
  private readonly maxVoters: number
  private readonly roundMs: number
  private readonly polls = new Map<string, Poll>()
  private readonly waiting = new Map<string, { task: CriticalTask, reason: string }>()
  /** this node's votes by task and image (task!image), recently used: a repeated ballot gets them again, never a new vote */
  private readonly cast = new Map<string, { votes: SignedVote[], at: number }>()
  private readonly ledger: VoteLedger
  /** ballots being voted on, and how many per origin */
  private readonly voting = new Set<string>()
  private readonly pendingByOrigin = new Map<string, number>()
  private voteChain: Promise<void> = Promise.resolve()
  /** equivocators seen anywhere (their votes never count) */
  readonly equivocators = new Set<string>()
  /** every verified vote of recent tasks, by task and VOTER!IMAGE!MODEL, to catch equivocation on any task; oldest task first */
  private readonly recent = new Map<string, { byVoter: Map<string, SignedVote[]>, bytes: number, at: number }>()
  private recentBytes = 0
  /** tasks this node has voted on (their votes in `recent` are kept to the byte bound, not to FOREIGN_VOTES_MS) */
  private readonly votedTasks = new Set<string>()
  private waitTimer: ReturnType<typeof setInterval> | undefined
  /** ms from the arrival of the vote that completed a quorum to the certificate, most recent last */
  readonly formationMs: number[] = []
  private stopped = false

  constructor (private readonly node: Libp2p<{ pubsub: GossipSub }>, private readonly init: QuorumInit) {
    this.self = node.peerId.toString()
    this.f = init.f ?? DEFAULT_F
    this.maxVoters = init.maxVoters ?? 3 * this.f + 1 + 3
    this.roundMs = init.roundMs ?? DEFAULT_ROUND_MS
    this.ledger = init.ledger ?? new MemoryVoteLedger(REMEMBERED_VOTES)
    this.onMessage = this.onMessage.bind(this)
  }

  get needed (): number { return 2 * this.f + 1 }
  get size (): number { return 3 * this.f + 1 }

  start (): void {
    this.node.services.pubsub.subscribe(VOTES_TOPIC)
    this.node.services.pubsub.addEventListener('message', this.onMessage)
    this.waitTimer = setInterval(() => { this.retryWaiting() }, WAIT_POLL_MS)
    this.waitTimer.unref()
  }

  /** Stop voting; a vote under way is dropped before it is signed into the ledger. */
  async stop (): Promise<void> {
    this.stopped = true
    if (this.waitTimer != null) clearInterval(this.waitTimer)
    for (const p of this.polls.values()) if (p.timer != null) clearTimeout(p.timer)
    this.node.services.pubsub.removeEventListener('message', this.onMessage)
    this.node.services.pubsub.unsubscribe(VOTES_TOPIC)
  }

  /** Where a critical task of this node stands. */
  stateOf (task: string): QuorumState | undefined {
    const w = this.waiting.get(task)
    if (w != null) return { state: 'waiting', reason: w.reason }
    const p = this.polls.get(task)
    if (p == null) return undefined
    return { state: 'voting', round: p.round, voters: p.voters, votes: [...p.votes.keys()].filter(v => !this.equivocators.has(v)).length, needed: this.needed }
  }

  /** Stop voting on a task that finished another way (a certified result from elsewhere). */
  end (task: string): void {
    this.waiting.delete(task)
    const poll = this.polls.get(task)
    if (poll == null) return
    poll.done = true
    if (poll.timer != null) clearTimeout(poll.timer)
    this.polls.delete(task)
  }

  /** Start (or restart, after this node restarted) the quorum for one of this node's critical tasks. */
  begin (task: CriticalTask): void {
    if (this.polls.has(task.id) || this.stopped) return
    const eligible = this.eligibleVoters()
    // Members proven to equivocate are online but never asked: when only they make the ballot short,
    // it goes ahead with the others (a certificate still needs 2f+1 matching votes, so safety holds).
    const excluded = [...new Set(this.init.eligible())].filter(p => this.equivocators.has(p)).length
    const enough = eligible.length >= this.size || (eligible.length >= this.needed && eligible.length + excluded >= this.size)
    if (!enough) {
      const reason = `waiting for voters: ${this.size} members needed for f = ${this.f}, ${eligible.length} online${excluded > 0 ? ` (and ${excluded} excluded for equivocating)` : ''}`
      if (!this.waiting.has(task.id)) this.init.log.info({ task: task.id, online: eligible.length, needed: this.size }, 'critical task waits for voters')
      this.waiting.set(task.id, { task, reason })
      return
    }
    this.waiting.delete(task.id)
    const voters = pick(eligible, this.size)
    const poll: Poll = { task, round: 1, voters, votes: new Map(), equivocators: new Set(), done: false, reasked: false }
    this.polls.set(task.id, poll)
    this.publishBallot(poll)
  }

  /** Members that can hear a ballot now: subscribed to the vote topic (or this node), not caught equivocating. */
  private eligibleVoters (): string[] {
    const listening = new Set(this.node.services.pubsub.getSubscribers(VOTES_TOPIC).map(String))
    return [...new Set(this.init.eligible())].filter(p => (p === this.self || listening.has(p)) && !this.equivocators.has(p))
  }

  private retryWaiting (): void {
    for (const { task } of [...this.waiting.values()]) this.begin(task)
  }

  private publishBallot (poll: Poll): void {
    const ballot = { kind: 'ballot', task: poll.task.id, image: poll.task.image, model: this.init.model, file: poll.task.file, voters: poll.voters, round: poll.round }
    this.node.services.pubsub.publish(VOTES_TOPIC, encodeJson(ballot)).catch(err => { this.init.log.debug({ err: (err as Error).message }, 'publishing a ballot failed') })
    this.init.log.info({ task: poll.task.id, round: poll.round, voters: poll.voters.length }, 'ballot out')
    if (poll.timer != null) clearTimeout(poll.timer)
    poll.timer = setTimeout(() => { this.closeRound(poll).catch(err => { this.init.log.warn({ task: poll.task.id, err: (err as Error).message }, 'closing a voting round failed') }) }, this.roundMs)
    poll.timer.unref()
    // This node votes on its own ballot too when chosen (gossipsub does not deliver our own messages).
    if (poll.voters.includes(this.self)) this.enqueueVote(this.self, Ballot.parse(ballot))
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
      if (ballot.data.voters.includes(this.self) && this.init.isMember(from)) this.enqueueVote(from, ballot.data)
      return
    }
    const vote = VoteMessage.safeParse(json)
    if (vote.success) {
      this.receiveVote(vote.data.vote, performance.now()).catch(err => { this.init.log.warn({ err: (err as Error).message }, 'counting a vote failed') })
      return
    }
    this.init.log.debug({ peer: from }, 'refused a malformed vote message')
  }

  /**
   * A ballot naming this node: vote once per task and image (one ballot at a
   * time, bounded in number), or, for one it has already voted on (the origin
   * restarted or asks again), publish the same votes again, even after a
   * restart with another model.
   */
  private enqueueVote (origin: string, ballot: z.infer<typeof Ballot>): void {
    const key = `${ballot.task}!${ballot.image}`
    const cast = this.cast.get(key)
    if (cast != null) {
      this.republish(cast)
      return
    }
    const fromOrigin = this.pendingByOrigin.get(origin) ?? 0
    if (this.voting.has(key) || this.stopped) return
    if (this.voting.size >= MAX_PENDING_BALLOTS || fromOrigin >= MAX_PENDING_BALLOTS_PER_ORIGIN) {
      this.init.log.warn({ origin, task: ballot.task }, 'too many ballots waiting: this one is dropped (the origin asks again)')
      return
    }
    this.voting.add(key)
    this.pendingByOrigin.set(origin, fromOrigin + 1)
    this.voteChain = this.voteChain.then(async () => { await this.vote(origin, ballot, key) }).catch(() => {}).finally(() => {
      this.voting.delete(key)
      const left = (this.pendingByOrigin.get(origin) ?? 1) - 1
      if (left <= 0) this.pendingByOrigin.delete(origin)
      else this.pendingByOrigin.set(origin, left)
    })
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

  /** Recognise the ballot's image and publish a signed vote (recorded in the ledger first). */
  private async vote (origin: string, ballot: z.infer<typeof Ballot>, key: string): Promise<void> {
    if (this.stopped) return
    try {
      const earlier = await this.ledger.get(key)
      if (earlier != null) {
        // Voted before this node last started: the same votes again, never new ones.
        const cast = { votes: earlier, at: 0 }
        this.remember(key, cast)
        this.republish(cast)
        return
      }
      const image = origin === this.self
        ? await this.init.localImage(ballot.image)
        : await this.init.blobs.fetch(peerIdFromString(origin), ballot.image)
      if (image == null) throw new Error(`image ${ballot.image} is not here`)
      const r = await this.init.recognise(image, ballot.file)
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
    if (conflicting != null && !this.equivocators.has(v.voter)) {
      this.equivocators.add(v.voter)
      this.init.log.warn({ voter: v.voter, task: v.task }, 'equivocation: two different signed votes on one task')
      await this.init.onEquivocation(conflicting, v).catch(err => { this.init.log.warn({ err }, 'storing equivocation evidence failed') })
    }
    const poll = this.polls.get(v.task)
    if (poll == null || poll.done) return
    if (!poll.voters.includes(v.voter) || v.image !== poll.task.image) {
      this.init.log.debug({ task: v.task, voter: v.voter }, 'ignored a vote from a voter not on the ballot')
      return
    }
    poll.votes.set(v.voter, [...(poll.votes.get(v.voter) ?? []), v])
    if (conflicting != null) poll.equivocators.add(v.voter)
    poll.arrived = arrived
    await this.tally(poll)
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
      if (task === current) continue
      this.recent.delete(task)
      this.recentBytes -= e.bytes
    }
  }

  /** Bytes of votes kept to catch equivocation, and on how many tasks (for tests and status). */
  recentVotes (): { tasks: number, bytes: number } {
    return { tasks: this.recent.size, bytes: this.recentBytes }
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
    if (poll.done) return
    const byLatex = new Map<string, SignedVote[]>()
    for (const v of this.counted(poll)) byLatex.set(v.latex, [...(byLatex.get(v.latex) ?? []), v])
    for (const [latex, votes] of byLatex) {
      if (votes.length < this.needed) continue
      poll.done = true
      if (poll.timer != null) clearTimeout(poll.timer)
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
      const check = await this.init.checkCertificate(certificate)
      if (!check.ok) {
        poll.done = false
        this.init.log.warn({ task: poll.task.id, reason: check.reason, detail: check.detail }, 'a quorum was reached but its certificate would not verify; waiting for more votes')
        continue
      }
      this.init.log.info({ task: poll.task.id, votes: votes.length, latex }, 'quorum certificate formed')
      try {
        await this.init.onCertified(poll.task, certificate, confidence)
      } finally {
        this.polls.delete(poll.task.id)
      }
      return
    }
    // Everyone on the ballot has answered (or been caught equivocating) and nothing won: grow now.
    if (poll.voters.every(v => poll.votes.has(v) || this.equivocators.has(v))) await this.closeRound(poll)
  }

  /** A round without a quorum: more voters, or the end with "no consensus". */
  private async closeRound (poll: Poll): Promise<void> {
    if (poll.done || this.stopped) return
    // A silent voter may simply have missed the ballot: ask once more before growing.
    const silent = poll.voters.filter(v => !poll.votes.has(v) && !this.equivocators.has(v))
    if (silent.length > 0 && !poll.reasked) {
      poll.reasked = true
      this.init.log.info({ task: poll.task.id, silent: silent.length }, 'asking silent voters again')
      this.publishBallot(poll)
      return
    }
    const asked = new Set(poll.voters)
    const fresh = this.eligibleVoters().filter(p => !asked.has(p))
    const room = this.maxVoters - poll.voters.length
    // Enough new voters that a quorum becomes reachable even if every vote so far was wrong is not
    // always possible; grow by f+1 (at least one more honest voter) as long as there is room.
    const more = pick(fresh, Math.min(room, this.f + 1))
    if (more.length > 0) {
      poll.round++
      poll.voters = [...poll.voters, ...more]
      this.init.log.info({ task: poll.task.id, round: poll.round, added: more.length }, 'no agreement yet: more voters')
      this.publishBallot(poll)
      return
    }
    poll.done = true
    if (poll.timer != null) clearTimeout(poll.timer)
    const votes = [...poll.votes.values()].flat()
    this.init.log.warn({ task: poll.task.id, votes: votes.length }, 'no consensus')
    try {
      await this.init.onNoConsensus(poll.task, votes)
    } finally {
      this.polls.delete(poll.task.id)
    }
  }
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? 0 : s[Math.floor((s.length - 1) / 2)]!
}

/** k distinct entries at random. */
function pick<T> (xs: readonly T[], k: number): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a.slice(0, Math.max(0, k))
}

export { SignedVote as SignedVoteSchema }
