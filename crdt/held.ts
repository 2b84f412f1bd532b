/**
 * Remote envelopes held back, in memory: one that names a client id not known
 * yet (it builds on an incarnation whose envelopes have not arrived), or one
 * whose author is not (yet) admitted. They are capped in bytes, all authors
 * together and each author alone (the oldest held go first); one dropped is
 * fetched again by catch-up (heads do not count it). This store only keeps
 * them and tells which are due to be tried again; the replica tries them.
 */

export const DEFAULT_MAX_HELD_BYTES = 16 * 1024 * 1024
export const DEFAULT_MAX_HELD_BYTES_PER_AUTHOR = 4 * 1024 * 1024

/** The byte caps (ReplicaOptions), read at each hold. */
export interface HeldCaps {
  /** all authors together (default DEFAULT_MAX_HELD_BYTES) */
  maxHeldBytes?: number
  /** one author (default DEFAULT_MAX_HELD_BYTES_PER_AUTHOR) */
  maxHeldBytesPerAuthor?: number
}

/** A remote envelope held back: until a client id it names is known, or until its author is admitted. */
export interface Held {
  bytes: Uint8Array
  author: string
  /** the unknown client ids it waits for, or 'admission' */
  waitsFor: number[] | 'admission'
  /** when it was first held (ms since the epoch; now, unless given): one tried again and held again keeps its first time */
  since?: number
}

/** The key a held envelope is kept under: its log and the positions it covers. */
export function heldKey (logId: string, first: number, seq: number): string {
  return `${logId}!${first}!${seq}`
}

export class HeldEnvelopes {
  /** held envelopes by "LOG!FIRST!SEQ", oldest first */
  private readonly held = new Map<string, Held>()
  private readonly heldByClient = new Map<number, Set<string>>()
  private readonly heldByAuthor = new Map<string, Set<string>>()
  private readonly heldBytesOf = new Map<string, number>()
  private heldBytes = 0
  /** client ids that became known, and authors whose member entry changed, since held envelopes were last retried */
  private readonly newClients: number[] = []
  private readonly newMembers = new Set<string>()

  constructor (private readonly caps: HeldCaps) {}

  /** Hold an envelope back, within the byte caps (the oldest held go first). Returns whether it is held. */
  hold (key: string, h: Held): boolean {
    if (this.held.has(key)) return true
    const perAuthor = this.caps.maxHeldBytesPerAuthor ?? DEFAULT_MAX_HELD_BYTES_PER_AUTHOR
    const total = this.caps.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES
    if (h.bytes.length > perAuthor || h.bytes.length > total) return false
    this.held.set(key, { ...h, since: h.since ?? Date.now() })
    this.heldBytes += h.bytes.length
    this.heldBytesOf.set(h.author, (this.heldBytesOf.get(h.author) ?? 0) + h.bytes.length)
    const index = <K>(m: Map<K, Set<string>>, k: K): void => {
      let keys = m.get(k)
      if (keys == null) m.set(k, keys = new Set())
      keys.add(key)
    }
    index(this.heldByAuthor, h.author)
    if (h.waitsFor !== 'admission') for (const c of h.waitsFor) index(this.heldByClient, c)
    for (const k of this.heldByAuthor.get(h.author)!) {
      if ((this.heldBytesOf.get(h.author) ?? 0) <= perAuthor) break
      this.unhold(k)
    }
    for (const k of this.held.keys()) {
      if (this.heldBytes <= total) break
      this.unhold(k)
    }
    return this.held.has(key)
  }

  /** Let go of a held envelope, and return it (undefined when it is not held, or no longer). */
  unhold (key: string): Held | undefined {
    const h = this.held.get(key)
    if (h == null) return undefined
    this.held.delete(key)
    this.heldBytes -= h.bytes.length
    const left = (this.heldBytesOf.get(h.author) ?? 0) - h.bytes.length
    if (left > 0) this.heldBytesOf.set(h.author, left)
    else this.heldBytesOf.delete(h.author)
    const unindex = <K>(m: Map<K, Set<string>>, k: K): void => {
      const keys = m.get(k)
      keys?.delete(key)
      if (keys?.size === 0) m.delete(k)
    }
    unindex(this.heldByAuthor, h.author)
    if (h.waitsFor !== 'admission') for (const c of h.waitsFor) unindex(this.heldByClient, c)
    return h
  }

  /** A client id became known: the envelopes held for it are due. */
  clientKnown (client: number): void {
    if (this.heldByClient.has(client)) this.newClients.push(client)
  }

  /** An author's member entry changed (inside a Yjs transaction): its envelopes held for admission are due. */
  memberChanged (author: string): void {
    if (this.heldByAuthor.has(author)) this.newMembers.add(author)
  }

  /**
   * The keys of the held envelopes due to be tried again: those that wait for a client id now
   * known, or for an author whose member entry arrived. Empty when none; each is told once.
   */
  due (): Set<string> {
    const keys = new Set<string>()
    for (const c of this.newClients.splice(0)) for (const k of this.heldByClient.get(c) ?? []) keys.add(k)
    for (const a of this.newMembers) {
      for (const k of this.heldByAuthor.get(a) ?? []) if (this.held.get(k)?.waitsFor === 'admission') keys.add(k)
    }
    this.newMembers.clear()
    return keys
  }

  /** When the envelope held longest was first held (ms since the epoch); undefined when none is held. */
  oldest (): number | undefined {
    let oldest: number | undefined
    for (const h of this.held.values()) if (h.since != null && (oldest == null || h.since < oldest)) oldest = h.since
    return oldest
  }

  /** Envelopes held back now, and their bytes. */
  counts (): { pending: number, notAdmitted: number, bytes: number } {
    let notAdmitted = 0
    for (const h of this.held.values()) if (h.waitsFor === 'admission') notAdmitted++
    return { pending: this.held.size - notAdmitted, notAdmitted, bytes: this.heldBytes }
  }
}
