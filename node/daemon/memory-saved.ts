/**
 * The formula memory's records in its saved copy (memory/snapshot.ts): its formulas, by id (read
 * from the copy's file afterwards: memory-formulas.ts), and for each store entry its key, a print
 * of what it held, and the ids of the formulas it gave.
 * Written and read one record a line, as the memory is gone over, so that a million entries
 * never stand in memory as one text (at a million results, that cost a save 750 MiB of RSS,
 * and a start 250 MB of text and 400 MB of parse).
 */
import { writeSnapshot, type Snapshot } from '../../memory/snapshot.js'
import type { ExactVector, VectorIndex } from '../../memory/index.js'
import { embeddingFingerprint } from '../../memory/embedding.js'
import { releaseFreedMemory } from '../../util/release-memory.js'
import { giveWay, inSlices, SLICE_MS } from '../../util/slices.js'
import { printFromText, savedKey, type Entries, type Print } from './memory-held.js'
import type { FormulaTable, Written } from './memory-formulas.js'

/** A saved copy that proved unusable while it was read: the memory is built from the store instead. */
export class UnusableCopyError extends Error {}

export const FORMULAS = 'formulas'
export const ENTRIES = 'entries'

/** A saved entry: its key (savedKey), its print's time and hash, and the ids of the formulas it gave. */
export type SavedEntry = [string, number, number, number[]]

/** A copy's records by name; whatever goes wrong reading them (a file missing, a line not JSON) makes the copy unusable. */
async function * records (copy: Snapshot, name: string): AsyncGenerator<unknown[]> {
  try {
    yield * copy.records(name)
  } catch (err) {
    throw err instanceof UnusableCopyError ? err : new UnusableCopyError((err as Error).message)
  }
}

/**
 * Take the copy's formulas, by id, into `formulas` (empty): distinct strings, one for each vector
 * of its index, read from the copy's file when asked for (a copy of format 3, one text, has them
 * held until the next save). False when `stopped()` first.
 */
export async function savedFormulas (copy: Snapshot, formulas: FormulaTable, stopped: () => boolean): Promise<boolean> {
  const file = copy.file(FORMULAS)
  try {
    if (file != null) {
      if (!await formulas.read(file, stopped)) return false
    } else {
      for await (const batch of records(copy, FORMULAS)) {
        for (const f of batch) {
          if (typeof f !== 'string' || formulas.idOf(f) != null) throw new UnusableCopyError(`its formulas are not distinct strings (at ${formulas.size}: ${JSON.stringify(f).slice(0, 100)})`)
          formulas.add(f)
        }
        if (stopped()) return false
      }
    }
  } catch (err) {
    formulas.clear()
    if (err instanceof UnusableCopyError) throw err
    throw new UnusableCopyError((err as Error).message)
  }
  if (formulas.size !== copy.index.size) {
    const n = formulas.size
    formulas.clear()
    throw new UnusableCopyError(`${n} formulas for ${copy.index.size} vectors`)
  }
  return true
}

/**
 * A saved entry's print: as this version saves it (time, hash), or as earlier ones did
 * ("TIME:HASH"); a text that reads as neither matches no entry (that entry alone is read again).
 */
function savedPrint (e: unknown[]): Print | undefined {
  if (e.length === 4 && typeof e[1] === 'number' && Number.isFinite(e[1]) && Number.isInteger(e[2]) && (e[2] as number) >= 0 && (e[2] as number) < 2 ** 32) return { time: e[1], hash: e[2] as number }
  if (e.length === 3 && typeof e[1] === 'string') return printFromText(e[1]) ?? { time: NaN, hash: 0 }
  return undefined
}

/**
 * The copy's entries by key, each checked (its ids among the `formulas` formulas); read in
 * batches, and left off when `stopped()`. `outdated`: an earlier version saved the copy (its
 * formulas in one text, or prints as text): a save writes it again as this one does.
 */
export async function savedEntries (copy: Snapshot, formulas: number, stopped: () => boolean): Promise<{ entries: Map<string, { print: Print, ids: number[] }>, outdated: boolean }> {
  const entries = new Map<string, { print: Print, ids: number[] }>()
  let outdated = false
  for await (const batch of records(copy, ENTRIES)) {
    for (const e of batch) {
      const [key, ids] = Array.isArray(e) ? [e[0] as unknown, e.at(-1) as unknown] : []
      const print = Array.isArray(e) ? savedPrint(e) : undefined
      if (print == null || typeof key !== 'string' || !Array.isArray(ids) || !ids.every(id => Number.isInteger(id) && id >= 0 && id < formulas)) {
        throw new UnusableCopyError(`a malformed entry ${JSON.stringify(e).slice(0, 200)}`)
      }
      outdated ||= (e as unknown[]).length === 3
      entries.set(key, { print, ids: ids as number[] })
    }
    if (stopped()) break
  }
  return { entries, outdated: outdated || copy.file(FORMULAS) == null }
}

/**
 * Write the memory's copy in `dir`: its index, its formulas by id (which are read from there
 * from then on), and each entry (Entries). A save that freezes a segment of the index drops the segment's in-memory graph
 * (or one reading a deleted file), whose native memory V8 does not see: a major collection
 * finalizes it at once (unless the node is stopping). `notFrozen`: saved, but the segment stays
 * in memory (why); `froze`: graphs were dropped, and the collection took `gcMs`.
 */
export function writeCopy (dir: string, index: VectorIndex, formulas: FormulaTable, entries: Entries, stopping: boolean): { notFrozen?: string, froze?: { gcMs: number } } {
  const each = function * (): Generator<SavedEntry> {
    for (const [key, print, ids] of entries) yield [savedKey(key), print.time, print.hash, ids]
  }
  let written: Written | undefined
  let meta: ReturnType<typeof writeSnapshot>
  try {
    meta = writeSnapshot(dir, index, embeddingFingerprint(), { [FORMULAS]: file => { written = formulas.write(file) }, [ENTRIES]: each() })
  } catch (err) {
    if (written != null) formulas.discard(written)
    throw err
  }
  formulas.savedIn(written!)
  if (meta.notFrozen != null) return { notFrozen: meta.notFrozen }
  if (meta.dropped === 0) return {}
  let gcMs = 0
  try {
    if (!stopping) gcMs = Math.round(releaseFreedMemory('regular').ms)
  } catch {
    // the collection is a saving of memory, not part of the save
  }
  return { froze: { gcMs } }
}

/** Indexes with a merge of segments under way. */
const merging = new WeakSet<VectorIndex>()

/**
 * Merge the index's segments while a merge is due (memory/index.ts `merging`, from the exact
 * vectors), in slices that give way to the store; `merged` is told after each merge (so that it
 * is saved even if a later one fails or the node stops).
 */
export async function mergeSegments (index: VectorIndex, exact: ExactVector, stopped: () => boolean, busy: () => boolean, merged: () => void): Promise<void> {
  if (merging.has(index)) return
  merging.add(index)
  try {
    for (let steps = index.merging(exact); steps != null && !stopped(); steps = index.merging(exact)) {
      if (!await inSlices(steps, () => {}, stopped, SLICE_MS, giveWay(busy))) break
      merged()
    }
  } finally {
    merging.delete(index)
  }
}
