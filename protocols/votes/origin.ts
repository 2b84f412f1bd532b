/**
 * The asking side: this node's critical tasks. A task waits in a queue until
 * enough voters have room (at most VOTER_WINDOW of its ballots in flight to
 * any one voter: backpressure), then goes out as a ballot to the least loaded
 * voters. Their votes are counted here: 2f+1 matching votes make a quorum
 * certificate, issued only if it passes the check every reader applies. A
 * ballot that cannot reach a quorum grows; with nobody left to ask and nobody
 * left to wait for, the task ends with "no consensus" and its votes.
 */
import { encodeJson } from '../json.js'
import { VOTER_WINDOW, VOTES_TOPIC } from './constants.js'
import { Ballot } from './messages.js'
import { ballotsInFlight, countedVotes, median, quorums, votersLacking } from './policy.js'
import type { Asked, Poll } from './poll.js'
import type { Shared } from './shared.js'
import type { Standing } from './standing.js'
import { isEquivocation, type QuorumCertificate, type QuorumCheck, type SignedVote } from './vote.js'
import type { Voter } from './voter.js'
import type { SeenVote, VoteWatch } from './watch.js'
import type { CriticalTask, QuorumState } from './index.js'

export class Origin {
  /** this node's open ballots, by task */
  readonly polls = new Map<string, Poll>()
  /** critical tasks waiting to be put to a vote (in order), with when they came */
  readonly queued = new Map<string, { task: CriticalTask, since: number }>()
  /** why the queued tasks wait (too few members online, or every voter's window full) */
  private queueReason = ''
  private paused = false
  /** ms from the arrival of the vote that completed a quorum to the certificate, most recent last */
  readonly formationMs: number[] = []

  /** `voter`: this node's own reading side, for its own ballots when it is one of their voters */
  constructor (private readonly shared: Shared, private readonly watch: VoteWatch, private readonly standing: Standing, private readonly voter: Voter) {}

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
      votes: [...p.votes.keys()].filter(v => !this.watch.equivocators.has(v)).length,
      needed: this.shared.needed,
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
    if (this.polls.has(task.id) || this.queued.has(task.id) || this.shared.stopped) return
    this.queued.set(task.id, { task, since: performance.now() })
    this.pump()
  }

  /** Members that can hear a ballot now: subscribed to the vote topic (or this node), not caught equivocating. */
  private eligibleVoters (): string[] {
    const listening = new Set(this.shared.pubsub.getSubscribers(VOTES_TOPIC).map(String))
    return [...new Set(this.shared.init.eligible())].filter(p => (p === this.shared.self || listening.has(p)) && !this.watch.equivocators.has(p))
  }

  /** Ballots of this node's open polls that each voter holds and has not answered (not those it refused as busy or was given up on). */
  private inFlight (): Map<string, number> {
    return ballotsInFlight(this.polls.values())
  }

  /** Put queued tasks to a vote while enough voters have room in their windows (backpressure). */
  pump (): void {
    const { needed, size } = this.shared
    if (this.shared.stopped || this.paused || this.queued.size === 0) return
    const eligible = this.eligibleVoters()
    // Members online but not asked (proven to equivocate, or connected but not heard on the vote topic:
    // gossipsub shuts out a peer that floods it): when only they make the network short, votes go
    // ahead with the others (a certificate still needs 2f+1 matching votes, so safety holds).
    const listening = new Set(eligible)
    const excluded = [...new Set(this.shared.init.eligible())].filter(p => !listening.has(p)).length
    const enough = eligible.length >= size || (eligible.length >= needed && eligible.length + excluded >= size)
    if (!enough) {
      const reason = `waiting for voters: ${size} members needed for f = ${this.shared.f}, ${eligible.length} online${excluded > 0 ? ` (and ${excluded} excluded: equivocating, or not heard on the vote topic)` : ''}`
      if (this.queueReason !== reason) this.shared.log.info({ queued: this.queued.size, online: eligible.length, needed: size }, 'critical tasks wait for voters')
      this.queueReason = reason
      return
    }
    const load = this.inFlight()
    // While enough voters agree with certified answers, ballots wait for their room rather than go to
    // dissenters: a dissenter on a ballot costs its reading and an honest one more.
    const trusted = eligible.filter(p => !this.standing.dissenter(p))
    const pool = trusted.length >= needed ? trusted : eligible
    for (const [id, { task, since }] of this.queued) {
      const room = this.standing.rank(pool.filter(p => (load.get(p) ?? 0) < this.standing.windowOf(p)), load)
      if (room.length < needed) {
        this.queueReason = `queued: voters busy (${this.polls.size} ballots open, at most ${VOTER_WINDOW} in flight to a voter)`
        return
      }
      this.queued.delete(id)
      const voters = room.slice(0, needed)
      for (const v of voters) load.set(v, (load.get(v) ?? 0) + 1)
      const now = performance.now()
      this.shared.timing.queued.add(now - since)
      const poll: Poll = { task, began: since, ballotAt: now, round: 1, voters: [], asked: new Map(), votes: new Map(), equivocators: new Set(), failed: new Set(), done: false }
      this.polls.set(id, poll)
      this.ask(poll, voters)
    }
  }

  /** Add voters to a poll (none: ask the ones not yet heard from again) and publish its ballot. */
  ask (poll: Poll, more: string[]): void {
    const { self, init, log } = this.shared
    const now = performance.now()
    for (const v of more) {
      poll.voters.push(v)
      poll.asked.set(v, { at: now, count: this.watch.progress.get(v)?.count ?? 0, suspected: false, reasked: false, reasks: 0, busy: false, gaveUp: false })
    }
    const ballot = { kind: 'ballot', task: poll.task.id, image: poll.task.image, model: init.model, file: poll.task.file, voters: poll.voters, round: poll.round }
    this.shared.pubsub.publish(VOTES_TOPIC, encodeJson(ballot)).catch(err => { log.debug({ err: (err as Error).message }, 'publishing a ballot failed') })
    log.debug({ task: poll.task.id, round: poll.round, voters: poll.voters.length }, 'ballot out')
    // This node votes on its own ballot too when chosen (gossipsub does not deliver our own messages);
    // its own queue being full is its own "busy".
    const own = poll.asked.get(self)
    if (own != null && !poll.votes.has(self) && !this.voter.enqueue(self, Ballot.parse(ballot))) this.refused(poll, self, own)
  }

  /** A voter on one of this node's ballots says its queue is full: the ballot grows now rather than wait for it. */
  async onBusy (from: string, task: string, image: string): Promise<void> {
    const poll = this.polls.get(task)
    const a = poll?.asked.get(from)
    if (poll == null || a == null || poll.done || poll.task.image !== image || poll.votes.has(from) || a.busy) return
    await this.refused(poll, from, a)
  }

  /** A voter refused a ballot (its queue is full): counted as not coming for now, sent again once it has room. */
  private async refused (poll: Poll, voter: string, a: Asked): Promise<void> {
    if (!a.suspected) this.shared.counts.suspected++
    a.suspected = true
    a.reasked = true
    a.busy = true
    a.at = performance.now()
    a.count = this.watch.progress.get(voter)?.count ?? 0
    this.shared.log.debug({ task: poll.task.id, voter }, 'a voter is busy: the ballot grows')
    await this.grow(poll)
  }

  /** A vote seen on the topic (see VoteWatch): counted when it is on one of this node's ballots. */
  async count ({ vote: v, conflicting, fresh, before }: SeenVote, arrived: number): Promise<void> {
    const poll = this.polls.get(v.task)
    if (poll == null || poll.done) return
    const asked = poll.asked.get(v.voter)
    if (asked == null || v.image !== poll.task.image) {
      this.shared.log.debug({ task: v.task, voter: v.voter }, 'ignored a vote from a voter not on the ballot')
      return
    }
    const had = poll.votes.get(v.voter) ?? []
    // A second copy of a vote it holds, or the same answer signed again, changes nothing; only a conflicting one (equivocation) is added.
    if (had.some(m => m.sig === v.sig || !isEquivocation(m, v))) return
    if (had.length === 0) {
      this.shared.timing.toVote.add(arrived - asked.at)
      if (!asked.suspected && fresh) {
        const service = arrived - Math.max(asked.at, before?.at ?? 0)
        this.shared.timing.service.add(service)
        this.watch.addServiceTime(v.voter, service)
      }
      this.standing.suspects.delete(v.voter)
    }
    poll.votes.set(v.voter, [...had, v].slice(0, 4))
    if (conflicting != null) poll.equivocators.add(v.voter)
    poll.arrived = arrived
    await this.tally(poll)
    this.pump()
  }

  private counted (poll: Poll): SignedVote[] {
    return countedVotes(poll.votes, this.watch.equivocators, this.shared.init.model)
  }

  private async tally (poll: Poll): Promise<void> {
    const { init, log } = this.shared
    if (poll.done || this.shared.stopped) return
    for (const { latex, votes } of quorums(this.counted(poll), this.shared.needed, poll.failed)) {
      poll.done = true
      const certificate: QuorumCertificate = {
        v: 1,
        task: poll.task.id,
        image: poll.task.image,
        model: init.model,
        latex,
        f: this.shared.f,
        network: init.network,
        votes,
        members: init.network == null ? [] : votes.map(v => init.certificateOf(v.voter)).filter((c): c is string => c != null)
      }
      const confidence = median(votes.map(v => v.confidence))
      if (poll.arrived != null) {
        this.formationMs.push(performance.now() - poll.arrived)
        if (this.formationMs.length > 10_000) this.formationMs.shift()
      }
      // Issued only if it passes the check every reader applies (a voter's membership certificate may be missing here).
      const check = await init.checkCertificate(certificate).catch((err: unknown): QuorumCheck => ({ ok: false, reason: 'malformed', detail: (err as Error).message }))
      if (!check.ok) {
        poll.done = false
        // Those votes do not count toward a quorum for this answer: the ballot grows instead.
        poll.failed.add(latex)
        log.warn({ task: poll.task.id, reason: check.reason, detail: check.detail }, 'a quorum was reached but its certificate would not verify; asking more voters')
        continue
      }
      this.standing.noteDissent(poll, latex)
      log.info({ task: poll.task.id, votes: votes.length, latex }, 'quorum certificate formed')
      this.shared.timing.toCertificate.add(performance.now() - poll.ballotAt)
      this.shared.counts.certified++
      try {
        await init.onCertified(poll.task, certificate, confidence)
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
  async grow (poll: Poll): Promise<void> {
    const { log } = this.shared
    const equivocators = this.watch.equivocators
    if (poll.done || this.shared.stopped) return
    const awaited = poll.voters.filter(v => !poll.votes.has(v) && !equivocators.has(v) && poll.asked.get(v)?.suspected !== true)
    const lacking = votersLacking(this.counted(poll), poll.failed, awaited.length, this.shared.needed)
    if (lacking <= 0) return
    const fresh = this.eligibleVoters().filter(p => !poll.asked.has(p))
    const more = this.standing.rank(fresh, this.inFlight()).slice(0, Math.min(this.shared.maxVoters - poll.voters.length, lacking))
    if (more.length > 0) {
      poll.round++
      this.shared.counts.grown++
      log.info({ task: poll.task.id, round: poll.round, added: more.length, votes: poll.votes.size }, 'no agreement yet: more voters')
      this.ask(poll, more)
      return
    }
    // Nobody left to ask: wait for suspected voters until they are given up on.
    const waitingFor = poll.voters.filter(v => !poll.votes.has(v) && !equivocators.has(v) && poll.asked.get(v)?.gaveUp !== true)
    if (waitingFor.length > 0) return
    poll.done = true
    const votes = [...poll.votes.values()].flat()
    this.shared.counts.noConsensus++
    log.warn({ task: poll.task.id, votes: votes.length }, 'no consensus')
    try {
      await this.shared.init.onNoConsensus(poll.task, votes)
    } finally {
      this.polls.delete(poll.task.id)
      this.pump()
    }
  }
}
