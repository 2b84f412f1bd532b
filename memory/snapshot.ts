/**
 * Saved copies of a vector index and of what goes with it, so that a node starts without
 * embedding and indexing everything again. In a folder of their own:
 *
 *   DIR/snap-N/   the index's segments (memory/index.ts), meta.json, and data.json (the caller's)
 *   DIR/CURRENT   "snap-N": the newest complete copy
 *
 * A copy is written in full under a new name, then CURRENT is replaced by a rename, then older
 * copies are removed: a crash at any point (kill -9 included) leaves the last complete copy
 * current, and the next write first clears what a crash or a failed write left behind. A copy made by another embedding
 * (its fingerprint differs), or whose files are missing or disagree, is not used.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { z } from 'zod'
import { VectorIndex } from './index.js'

/** 4: the index in segments (seg-N.usearch); 3, read too: in one file (vectors-graph.usearch) */
const FORMAT = 4
const Meta = z.object({
  format: z.union([z.literal(3), z.literal(FORMAT)]),
  /** memory/embedding.ts's fingerprint when the copy was written */
  embedding: z.string(),
  dimensions: z.number().int().positive(),
  count: z.number().int().nonnegative(),
  time: z.number()
})
export type SnapshotMeta = z.infer<typeof Meta>

export interface Snapshot<T> { index: VectorIndex, data: T, meta: SnapshotMeta }

/** Write a copy of `index` and `data` (JSON) in `dir`, and make it the current one. Synchronous: nothing changes meanwhile. */
export function writeSnapshot (dir: string, index: VectorIndex, embedding: string, data: unknown): SnapshotMeta {
  mkdirSync(dir, { recursive: true })
  const current = currentName(dir)
  // What a crash or a failed write left (anything but the current copy) goes first, so leftovers never pile up.
  clear(dir, current)
  const generation = Math.max(0, ...readdirSync(dir).map(n => /^snap-(\d+)$/.exec(n)).filter(m => m != null).map(m => Number(m[1]))) + 1
  const name = `snap-${generation}`
  const tmp = join(dir, `${name}.tmp`)
  const meta: SnapshotMeta = { format: FORMAT, embedding, dimensions: index.dimensions, count: index.size, time: Date.now() }
  try {
    mkdirSync(tmp)
    index.save(tmp)
    writeFileSync(join(tmp, 'data.json'), JSON.stringify(data))
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta))
    renameSync(tmp, join(dir, name))
    writeFileSync(join(dir, 'CURRENT.tmp'), name)
    renameSync(join(dir, 'CURRENT.tmp'), join(dir, 'CURRENT'))
  } catch (err) {
    clear(dir, current)
    throw err
  }
  try {
    index.savedIn(join(dir, name))
  } finally {
    // The copy before is no longer current (the index reads its files from the new one).
    clear(dir, name)
  }
  return meta
}

/** Remove every copy and leftover in `dir` but `keep` (and CURRENT). */
function clear (dir: string, keep: string | undefined): void {
  for (const n of readdirSync(dir)) {
    if (n !== keep && n !== 'CURRENT' && (n.startsWith('snap-') || n === 'CURRENT.tmp')) rmSync(join(dir, n), { recursive: true, force: true })
  }
}

/**
 * The current copy in `dir`, or why there is none to use. Read with a turn of the event loop
 * between its steps (the index, the data file, its parse, the caller's check), each of which
 * takes about a second at a million formulas: a node that loads it goes on answering meanwhile.
 */
export async function readSnapshot<T> (dir: string, dimensions: number, embedding: string, parse: (data: unknown) => T): Promise<Snapshot<T> | { unusable: string }> {
  const name = currentName(dir)
  if (name == null) return { unusable: 'none saved' }
  const at = join(dir, name)
  try {
    const meta = Meta.parse(JSON.parse(await readFile(join(at, 'meta.json'), 'utf8')))
    if (meta.embedding !== embedding) return { unusable: `made by another embedding (${meta.embedding}; this one is ${embedding})` }
    if (meta.dimensions !== dimensions) return { unusable: `of ${meta.dimensions} dimensions, not ${dimensions}` }
    const index = VectorIndex.load(at, dimensions)
    if (index.size !== meta.count) return { unusable: `${index.size} vectors where ${meta.count} were saved` }
    const text = await readFile(join(at, 'data.json'), 'utf8')
    await nextTurn()
    const json: unknown = JSON.parse(text)
    await nextTurn()
    return { index, data: parse(json), meta }
  } catch (err) {
    return { unusable: `${at}: ${(err as Error).message}` }
  }
}

function currentName (dir: string): string | undefined {
  try {
    const name = readFileSync(join(dir, 'CURRENT'), 'utf8').trim()
    return /^snap-\d+$/.test(name) ? name : undefined
  } catch {
    return undefined
  }
}
