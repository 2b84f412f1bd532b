/**
 * The votes this node signed, by ballot (task and image). A voter signs one
 * vote per ballot, ever, and after a restart publishes the same one again: a
 * vote with other LaTeX (a model that reads differently run to run, or a bug)
 * would be equivocation, for which every member would exclude this node. Kept
 * on LevelDB so a restart does not forget; entries older than `maxAgeMs` are
 * dropped when it opens.
 */
import { Level } from 'level'
import { z } from 'zod'
import { SignedVote } from './vote.js'

export interface VoteLedger {
  /** the votes this node signed on a ballot (key: TASK!IMAGE), if any */
  get: (ballot: string) => Promise<SignedVote[] | undefined>
  /** record them before they are published */
  put: (ballot: string, votes: SignedVote[]) => Promise<void>
  close: () => Promise<void>
}

const Entry = z.object({ votes: z.array(SignedVote).min(1).max(16), at: z.number() })

/** 90 days: far longer than any vote runs, or a node stays away and is asked again. */
export const LEDGER_MAX_AGE_MS = 90 * 24 * 3600 * 1000

export class LevelVoteLedger implements VoteLedger {
  private constructor (private readonly db: Level<string, unknown>) {}

  static async open (path: string, options: { maxAgeMs?: number, now?: () => number } = {}): Promise<LevelVoteLedger> {
    const db = new Level<string, unknown>(path, { keyEncoding: 'utf8', valueEncoding: 'json' })
    await db.open()
    const ledger = new LevelVoteLedger(db)
    try {
      await ledger.prune((options.now ?? Date.now)() - (options.maxAgeMs ?? LEDGER_MAX_AGE_MS))
    } catch (err) {
      await db.close()
      throw err
    }
    return ledger
  }

  private async prune (before: number): Promise<void> {
    const stale: string[] = []
    for await (const [key, value] of this.db.iterator()) {
      const entry = Entry.safeParse(value)
      if (!entry.success || entry.data.at < before) stale.push(key)
    }
    if (stale.length > 0) await this.db.batch(stale.map(key => ({ type: 'del' as const, key })))
  }

  async get (task: string): Promise<SignedVote[] | undefined> {
    const value = await this.db.get(task)
    if (value == null) return undefined
    const entry = Entry.safeParse(value)
    return entry.success ? entry.data.votes : undefined
  }

  async put (task: string, votes: SignedVote[]): Promise<void> {
    await this.db.put(task, { votes, at: Date.now() })
  }

  async close (): Promise<void> { await this.db.close() }
}

/** The same in memory, for the most recent `limit` tasks (tests, and nodes without a data dir). */
export class MemoryVoteLedger implements VoteLedger {
  private readonly votes = new Map<string, SignedVote[]>()
  constructor (private readonly limit = 4096) {}
  async get (task: string): Promise<SignedVote[] | undefined> { return this.votes.get(task) }
  async put (task: string, votes: SignedVote[]): Promise<void> {
    this.votes.set(task, votes)
    for (const old of this.votes.keys()) { if (this.votes.size <= this.limit) break; this.votes.delete(old) }
  }

  async close (): Promise<void> {}
}
