/**
 * The quorum's policy as pure functions, testable without a network: the order
 * in which members are asked, when a silent voter is suspected, how a voter's
 * dissent fades, which votes count, which answer has a quorum and how many
 * voters a ballot lacks, the ballots each voter holds; and the small
 * bookkeeping the service keeps (timings, reading slots, the rate of "busy").
 */
import { DISSENT_HALF_LIFE_MS, MIN_SUSPECT_MS, SUSPECT_FACTOR } from './constants.js'

/** Percentiles of recent timings (ms). */
export interface TimingSummary { n: number, p50: number, p95: number, max: number }

/** What ranking needs to know of a candidate voter. */
export interface VoterStanding {
  suspected: boolean
  dissenter: boolean
  /** ballots of this origin it holds and has not answered */
  load: number
  self: boolean
}

/**
 * Candidates in the order they should be asked: not suspected first, then not dissenting, then
 * the least loaded, then this node (it holds the image, and its own reading gives the certified
 * result its regions), ties at random.
 */
export function rankVoters (candidates: readonly string[], standing: (peer: string) => VoterStanding, random: () => number): string[] {
  return pick(candidates, candidates.length, random)
    .map((p, i) => { const s = standing(p); return { p, i, key: [s.suspected ? 1 : 0, s.dissenter ? 1 : 0, s.load, s.self ? 0 : 1] as const } })
    .sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.key[2] - b.key[2] || a.key[3] - b.key[3] || a.i - b.i)
    .map(x => x.p)
}

/** How long a voter may show no progress before it is suspected: a few of its typical times per ballot (or all voters' median, whichever is longer), within [MIN_SUSPECT_MS, silenceMs]. */
export function suspicionMs (typical: number, median: number, silenceMs: number): number {
  return Math.min(silenceMs, Math.max(MIN_SUSPECT_MS, SUSPECT_FACTOR * Math.max(median, typical)))
}

/** A voter's dissent score now, halving every DISSENT_HALF_LIFE_MS. */
export function dissentNow (score: number, at: number, now: number): number {
  return score * Math.pow(0.5, (now - at) / DISSENT_HALF_LIFE_MS)
}

/** The answers that have `needed` matching votes, not counting answers whose certificate failed; in the order first seen. */
export function quorums<V extends { latex: string }> (votes: readonly V[], needed: number, failed: ReadonlySet<string>): Array<{ latex: string, votes: V[] }> {
  const byLatex = new Map<string, V[]>()
  for (const v of votes) byLatex.set(v.latex, [...(byLatex.get(v.latex) ?? []), v])
  return [...byLatex].filter(([latex, vs]) => vs.length >= needed && !failed.has(latex)).map(([latex, vs]) => ({ latex, votes: vs }))
}

/**
 * The votes that count on a ballot (`votes`: every distinct vote per voter): one per voter (two or
 * more is equivocation), not of a known equivocator, read with the origin's model.
 */
export function countedVotes<V extends { model: string }> (votes: ReadonlyMap<string, readonly V[]>, equivocators: ReadonlySet<string>, model: string): V[] {
  const out: V[] = []
  for (const [voter, vs] of votes) {
    if (equivocators.has(voter) || vs.length !== 1) continue
    if (vs[0]!.model !== model) continue
    out.push(vs[0]!)
  }
  return out
}

/** What counting a voter's load needs to know of a ballot: who was asked (and how it stands) and who voted. */
export interface BallotLoad {
  asked: ReadonlyMap<string, { busy: boolean, gaveUp: boolean }>
  votes: ReadonlyMap<string, unknown>
}

/** Ballots that each voter holds and has not answered (not those it refused as busy or was given up on). */
export function ballotsInFlight (ballots: Iterable<BallotLoad>): Map<string, number> {
  const load = new Map<string, number>()
  for (const ballot of ballots) {
    for (const [voter, a] of ballot.asked) {
      if (ballot.votes.has(voter) || a.busy || a.gaveUp) continue
      load.set(voter, (load.get(voter) ?? 0) + 1)
    }
  }
  return load
}

/**
 * How many more voters a ballot must ask: what a quorum lacks after the likeliest answer's votes
 * (`votes`, not counting failed answers) and the voters still awaited.
 */
export function votersLacking (votes: ReadonlyArray<{ latex: string }>, failed: ReadonlySet<string>, awaited: number, needed: number): number {
  const tallies = new Map<string, number>()
  for (const v of votes) if (!failed.has(v.latex)) tallies.set(v.latex, (tallies.get(v.latex) ?? 0) + 1)
  return needed - Math.max(0, ...tallies.values()) - awaited
}

/**
 * Slots shared by owners (a voter's pipeline, shared by the origins whose ballots it holds): a slot
 * given back goes to the waiting owner that holds the fewest, the longest waiting first among equals,
 * so an origin with a long queue, or one slow to serve its images, cannot keep the others waiting.
 */
export class FairSlots {
  private used = 0
  private readonly held = new Map<string, number>()
  private readonly waiting: Array<{ owner: string, resolve: () => void }> = []
  constructor (private readonly size: number) {}

  async take (owner: string): Promise<void> {
    if (this.used < this.size && this.waiting.length === 0) {
      this.used++
      this.hold(owner, 1)
      return
    }
    await new Promise<void>(resolve => { this.waiting.push({ owner, resolve }) })
  }

  give (owner: string): void {
    this.hold(owner, -1)
    if (this.waiting.length === 0) {
      this.used--
      return
    }
    const holds = (i: number): number => this.held.get(this.waiting[i]!.owner) ?? 0
    let next = 0
    for (let i = 1; i < this.waiting.length; i++) if (holds(i) < holds(next)) next = i
    const [w] = this.waiting.splice(next, 1)
    // The slot passes straight on.
    this.hold(w!.owner, 1)
    w!.resolve()
  }

  /** Slots each owner holds now. */
  holders (): Map<string, number> {
    return new Map(this.held)
  }

  private hold (owner: string, delta: number): void {
    const n = (this.held.get(owner) ?? 0) + delta
    if (n <= 0) this.held.delete(owner)
    else this.held.set(owner, n)
  }
}

/** A token bucket: at most `perSecond` a second on average, and as many at once after a quiet second. */
export class RateLimit {
  private tokens: number
  private refilled: number
  constructor (private readonly perSecond: number, private readonly now: () => number = Date.now) {
    this.tokens = perSecond
    this.refilled = now()
  }

  /** May one more go now? (Taken if so.) */
  take (): boolean {
    const now = this.now()
    this.tokens = Math.min(this.perSecond, this.tokens + (now - this.refilled) * this.perSecond / 1000)
    this.refilled = now
    if (this.tokens < 1) return false
    this.tokens--
    return true
  }
}

/** A bounded record of recent timings. */
export class Samples {
  private readonly xs: number[] = []
  constructor (private readonly size = 2000) {}
  add (ms: number): void {
    this.xs.push(ms)
    if (this.xs.length > this.size) this.xs.shift()
  }

  summary (): TimingSummary {
    const s = [...this.xs].sort((a, b) => a - b)
    const at = (q: number): number => s.length === 0 ? 0 : Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10
    return { n: s.length, p50: at(0.5), p95: at(0.95), max: at(1) }
  }

  median (): number | undefined {
    if (this.xs.length === 0) return undefined
    const s = [...this.xs].sort((a, b) => a - b)
    return s[Math.floor((s.length - 1) / 2)]
  }
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? 0 : s[Math.floor((s.length - 1) / 2)]!
}

/** k distinct entries at random. */
export function pick<T> (xs: readonly T[], k: number, random: () => number): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a.slice(0, Math.max(0, k))
}
