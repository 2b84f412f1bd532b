/**
 * The reading side: ballots that name this node. It votes once per task and
 * image, ever (the votes go into the ledger before they are published), and
 * publishes the same votes again for a ballot that asks again. Its pipeline
 * fetches images ahead of its reading slots, origins taking turns; with its
 * queue full it tells the origin it is busy, and the origin asks another.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { BUSY_PER_SECOND, DEFAULT_CONCURRENCY, FETCH_AHEAD, MAX_PENDING_BALLOTS, MAX_PENDING_BALLOTS_PER_ORIGIN, REMEMBERED_VOTES, REPUBLISH_MS, VOTES_TOPIC } from './constants.js'
import { MemoryVoteLedger, type VoteLedger } from './ledger.js'
import { encodeBusy, encodeVote, type BallotMessage } from './messages.js'
import { FairSlots, RateLimit } from './policy.js'
import { signVote, type SignedVote } from './vote.js'
import type { Recognition } from './index.js'
import type { Shared } from './shared.js'
import type { VoteWatch } from './watch.js'

export class Voter {
  /** this node's votes by task and image (task!image), recently used: a repeated ballot gets them again, never a new vote */
  private readonly cast = new Map<string, { votes: SignedVote[], at: number }>()
  private readonly ledger: VoteLedger
  /** ballots being voted on (waiting or read now), with every member that sent that ballot (the image is fetched from the first that has it) */
  private readonly voting = new Map<string, string[]>()
  private readonly pendingByOrigin = new Map<string, number>()
  /** a voter's pipeline: ballots being fetched or waiting to be read (reading slots plus FETCH_AHEAD), and reading slots (its workers) */
  private readonly preparing: FairSlots
  private readonly readingSlots: FairSlots
  private readonly busy = new RateLimit(BUSY_PER_SECOND)

  /** `count`: counts a vote this node signed, as one from the network would be */
  constructor (private readonly shared: Shared, private readonly watch: VoteWatch, private readonly count: (vote: SignedVote) => Promise<void>) {
    const concurrency = Math.max(1, shared.init.concurrency ?? DEFAULT_CONCURRENCY)
    this.preparing = new FairSlots(concurrency + FETCH_AHEAD)
    this.readingSlots = new FairSlots(concurrency)
    this.ledger = shared.init.ledger ?? new MemoryVoteLedger(REMEMBERED_VOTES)
  }

  /**
   * A ballot naming this node: vote once per task and image (`concurrency` ballots at a time, in the
   * order they came, bounded in number), or, for one it has already voted on (the origin restarted or
   * asks again), publish the same votes again, even after a restart with another model. False when
   * its queue is full (refused, busy).
   */
  enqueue (origin: string, ballot: BallotMessage): boolean {
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
    if (this.shared.stopped) return true
    if (this.voting.size >= MAX_PENDING_BALLOTS || fromOrigin >= MAX_PENDING_BALLOTS_PER_ORIGIN) {
      this.shared.log.debug({ origin, task: ballot.task }, 'too many ballots waiting: this one is refused (busy)')
      if (origin !== this.shared.self) this.sayBusy(ballot)
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
    if (!this.busy.take()) return
    this.shared.counts.busy++
    void this.shared.pubsub.publish(VOTES_TOPIC, encodeBusy(ballot.task, ballot.image)).catch(() => {})
  }

  /** This node's votes on a ballot again, for a ballot that asks again. */
  private republish (cast: { votes: SignedVote[], at: number }): void {
    if (Date.now() - cast.at < REPUBLISH_MS) return
    cast.at = Date.now()
    for (const v of cast.votes) void this.shared.pubsub.publish(VOTES_TOPIC, encodeVote(v)).catch(() => {})
  }

  private remember (key: string, cast: { votes: SignedVote[], at: number }): void {
    this.cast.set(key, cast)
    for (const v of cast.votes) this.watch.votedTasks.add(v.task)
    for (const [old, c] of this.cast) {
      if (this.cast.size <= REMEMBERED_VOTES) break
      this.cast.delete(old)
      for (const v of c.votes) this.watch.votedTasks.delete(v.task)
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
    const { init, log, timing } = this.shared
    if (this.shared.stopped) return
    let t0 = 0
    let t1 = 0
    let t2 = 0
    let fetchMs = 0
    let r: Recognition
    await this.preparing.take(origin)
    try {
      if (this.shared.stopped) return
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
          image = from === this.shared.self ? await init.localImage(ballot.image) : await init.blobs.fetch(peerIdFromString(from), ballot.image)
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
        if (this.shared.stopped) return
        t1 = performance.now()
        r = await init.recognise(image, ballot.file)
        t2 = performance.now()
      } finally {
        this.readingSlots.give('')
      }
    } catch (err) {
      log.warn({ task: ballot.task, err: (err as Error).message }, 'could not vote')
      return
    } finally {
      this.preparing.give(origin)
    }
    try {
      const honest = await signVote(init.key, { task: ballot.task, image: ballot.image, model: r.model, latex: r.latex, confidence: r.confidence, voter: this.shared.self, time: Date.now() })
      const publish = async (bytes: Uint8Array): Promise<void> => { await this.shared.pubsub.publish(VOTES_TOPIC, bytes).then(() => {}, () => {}) }
      const votes = init.tamper != null ? await init.tamper(honest, { voters: ballot.voters, publish }) : [honest]
      if (this.shared.stopped) return // the ledger may be closed; the origin asks again
      if (votes.length > 0) await this.ledger.put(key, votes)
      this.remember(key, { votes, at: Date.now() })
      for (const v of votes) {
        await this.shared.pubsub.publish(VOTES_TOPIC, encodeVote(v)).catch(() => {})
        await this.count(v)
      }
      timing.wait.add(t1 - queuedAt - fetchMs)
      timing.fetch.add(fetchMs)
      timing.read.add(t2 - t1)
      timing.publish.add(performance.now() - t2)
      this.shared.counts.readings++
    } catch (err) {
      log.warn({ task: ballot.task, err: (err as Error).message }, 'could not vote')
    }
  }
}
