/**
 * Ids (whole numbers from 0 to 2^31 - 2) found by their keys, where the caller holds the keys
 * (as an array of strings, or a file) and their 32-bit hashes: an open-addressing hash table of
 * 4 bytes a slot, at most 3/4 full. A JavaScript Map keyed by a million strings costs 30 to 60
 * bytes an entry on top of the strings, and needs the strings in memory; this costs 5 to 11.
 */

const EMPTY = -1
const REMOVED = -2
const MIN_SLOTS = 64

/** A 32-bit hash of a string's UTF-16 code units (FNV-1a, then MurmurHash3's finalizer, so that the low bits a table uses are well mixed). */
export function hashString (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

export class IdTable {
  private slots = new Int32Array(MIN_SLOTS).fill(EMPTY)
  /** slots holding an id or a removal's mark */
  private taken = 0
  private count = 0

  /** `hashOf(id)`: the hash an id was inserted with (to place every id again when the table grows). */
  constructor (private readonly hashOf: (id: number) => number) {}

  get size (): number { return this.count }

  /** The id whose key hashed to `hash` and for which `matches(id)`; undefined when there is none. */
  find (hash: number, matches: (id: number) => boolean): number | undefined {
    const mask = this.slots.length - 1
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const id = this.slots[at]!
      if (id === EMPTY) return undefined
      if (id >= 0 && this.hashOf(id) === hash && matches(id)) return id
    }
  }

  /** Add `id` (not in the table) under `hash`. */
  insert (hash: number, id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= 0x7fffffff) throw new RangeError(`id ${id} is not a whole number from 0 to 2^31 - 2`)
    if ((this.taken + 1) * 4 > this.slots.length * 3) this.resize(Math.max(MIN_SLOTS, 2 ** Math.ceil(Math.log2((this.count + 1) * 2))))
    const mask = this.slots.length - 1
    let at = hash & mask
    while (this.slots[at]! >= 0) at = (at + 1) & mask
    if (this.slots[at] === EMPTY) this.taken++
    this.slots[at] = id
    this.count++
  }

  /** Take `id` (inserted under `hash`) out; false when it was not there. */
  remove (hash: number, id: number): boolean {
    const mask = this.slots.length - 1
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const held = this.slots[at]!
      if (held === EMPTY) return false
      if (held === id) {
        // A removal leaves a mark, so that the ids placed past this slot are still found.
        this.slots[at] = REMOVED
        this.count--
        return true
      }
    }
  }

  clear (): void {
    this.slots = new Int32Array(MIN_SLOTS).fill(EMPTY)
    this.taken = 0
    this.count = 0
  }

  /** Place every id again in `n` slots (a power of two), leaving the removals' marks behind. */
  private resize (n: number): void {
    const old = this.slots
    this.slots = new Int32Array(n).fill(EMPTY)
    const mask = n - 1
    for (const id of old) {
      if (id < 0) continue
      let at = this.hashOf(id) & mask
      while (this.slots[at] !== EMPTY) at = (at + 1) & mask
      this.slots[at] = id
    }
    this.taken = this.count
  }
}
