/**
 * Saved copies of a vector index and of what goes with it, so that a node starts without
 * embedding and indexing everything again. In a folder of their own:
 *
 *   DIR/snap-N/   the index's segments (memory/index.ts), meta.json, and the caller's records:
 *                 NAME.jsonl, one JSON value a line (format 3 kept them in one data.json)
 *   DIR/CURRENT   "snap-N": the newest complete copy
 *
 * A copy is written in full under a new name, then CURRENT is replaced by a rename, then older
 * copies are removed: a crash at any point (kill -9 included) leaves the last complete copy
 * current, and the next write first clears what a crash or a failed write left behind. A copy made by another embedding
 * (its fingerprint differs), or whose files are missing or disagree, is not used.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { open, readFile } from 'node:fs/promises'
import { z } from 'zod'
import { VectorIndex } from './index.js'
import { writeAllSync } from '../util/write-all.js'

/** 4: the index in segments (seg-N.usearch), records in lines; 3, read too: the index in one file (vectors-graph.usearch), records in data.json */
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

/**
 * A copy read back: its index, and its records by name, read as they are reached, in batches
 * (those of a chunk of the file), so that a million of them never stand in memory as one text.
 */
export interface Snapshot {
  index: VectorIndex
  meta: SnapshotMeta
  records: (name: string) => AsyncGenerator<unknown[]>
  /** the file of a name's records, one JSON value a line (none in a copy of format 3) */
  file: (name: string) => string | undefined
}

/** Bytes of records written, or read, at a time. */
const CHUNK = 256 * 1024

/**
 * Write a copy of `index` and of `records` (by name: JSON values, written one a line as they
 * are reached, or a function that writes the file itself, given its path) in `dir`, and make it
 * the current one. Synchronous: nothing changes meanwhile.
 * `dropped`: in-memory graphs the index let go (a segment frozen, one read from a file written
 * again); `notFrozen`: the copy was saved, but the index could not read the segment it froze
 * from its file, and keeps it in memory.
 */
export function writeSnapshot (dir: string, index: VectorIndex, embedding: string, records: Record<string, Iterable<unknown> | ((file: string) => void)>): SnapshotMeta & { dropped: number, notFrozen?: string } {
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
    for (const [name, values] of Object.entries(records)) {
      if (typeof values === 'function') values(join(tmp, `${name}.jsonl`))
      else writeRecords(join(tmp, `${name}.jsonl`), values)
    }
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta))
    renameSync(tmp, join(dir, name))
    writeFileSync(join(dir, 'CURRENT.tmp'), name)
    renameSync(join(dir, 'CURRENT.tmp'), join(dir, 'CURRENT'))
  } catch (err) {
    clear(dir, current)
    throw err
  }
  // The copy is current: what follows cannot undo the save.
  let notFrozen: string | undefined
  let dropped = 0
  try {
    dropped = index.savedIn(join(dir, name))
  } catch (err) {
    notFrozen = (err as Error).message
  }
  // The copy before is no longer current (the index reads its files from the new one); what
  // cannot be removed now is removed by the next save.
  try {
    clear(dir, name)
  } catch {}
  return { ...meta, dropped, ...(notFrozen != null ? { notFrozen } : {}) }
}

/** Remove every copy and leftover in `dir` but `keep` (and CURRENT). */
function clear (dir: string, keep: string | undefined): void {
  for (const n of readdirSync(dir)) {
    if (n !== keep && n !== 'CURRENT' && (n.startsWith('snap-') || n === 'CURRENT.tmp')) rmSync(join(dir, n), { recursive: true, force: true })
  }
}

function writeRecords (file: string, values: Iterable<unknown>): void {
  const fd = openSync(file, 'w')
  try {
    let chunk = ''
    for (const value of values) {
      chunk += `${JSON.stringify(value)}\n`
      if (chunk.length >= CHUNK) {
        writeAllSync(fd, Buffer.from(chunk))
        chunk = ''
      }
    }
    writeAllSync(fd, Buffer.from(chunk))
  } finally {
    closeSync(fd)
  }
}

/** The JSON values of a records file, a chunk's worth at a time; throws where a line is not JSON, or the file ends inside one. */
async function * readRecords (file: string): AsyncGenerator<unknown[]> {
  const handle = await open(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(CHUNK)
    const decoder = new TextDecoder('utf-8', { fatal: true })
    let rest = ''
    let line = 0
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, null)
      if (bytesRead === 0) break
      const lines = (rest + decoder.decode(buffer.subarray(0, bytesRead), { stream: true })).split('\n')
      rest = lines.pop()!
      yield lines.map(text => {
        line++
        try {
          return JSON.parse(text) as unknown
        } catch {
          throw new Error(`${file}, line ${line}: not JSON (${text.slice(0, 80)})`)
        }
      })
    }
    if (rest + decoder.decode() !== '') throw new Error(`${file} ends inside a line`)
  } finally {
    await handle.close()
  }
}

/** Format 3's records, all in data.json: an object of arrays by name, read whole the first time one is asked for. */
function legacyRecords (file: string): (name: string) => AsyncGenerator<unknown[]> {
  let data: Promise<Record<string, unknown>> | undefined
  return async function * (name) {
    data ??= readFile(file, 'utf8').then(text => JSON.parse(text) as Record<string, unknown>)
    const values = (await data)[name]
    if (!Array.isArray(values)) throw new Error(`${file} has no ${name}`)
    for (let i = 0; i < values.length; i += 4096) yield values.slice(i, i + 4096)
  }
}

/**
 * The current copy in `dir`, or why there is none to use: its index read (the segments read
 * from their files viewed, not loaded), its records read as the caller goes over them.
 */
export async function readSnapshot (dir: string, dimensions: number, embedding: string): Promise<Snapshot | { unusable: string }> {
  const name = currentName(dir)
  if (name == null) return { unusable: 'none saved' }
  const at = join(dir, name)
  try {
    const meta = Meta.parse(JSON.parse(await readFile(join(at, 'meta.json'), 'utf8')))
    if (meta.embedding !== embedding) return { unusable: `made by another embedding (${meta.embedding}; this one is ${embedding})` }
    if (meta.dimensions !== dimensions) return { unusable: `of ${meta.dimensions} dimensions, not ${dimensions}` }
    const index = VectorIndex.load(at, dimensions)
    if (index.size !== meta.count) return { unusable: `${index.size} vectors where ${meta.count} were saved` }
    const records = meta.format === 3 ? legacyRecords(join(at, 'data.json')) : async function * (name: string) { yield * readRecords(join(at, `${name}.jsonl`)) }
    return { index, meta, records, file: name => meta.format === 3 ? undefined : join(at, `${name}.jsonl`) }
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
