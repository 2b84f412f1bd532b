/**
 * What the replica's tests share (crdt-replica, crdt-refusals, crdt-compaction, crdt-held):
 * temporary data dirs, a result entry, the first item of a stream, and a tap on the envelopes
 * a replica publishes.
 */
import type { Replica } from '../crdt/replica.js'
import { type CorrectionEntry, type ResultEntry } from '../crdt/schemas.js'
import { removeDir, tempDir } from './helpers.js'

/** Temporary data dirs, all removed by `removeAll` (call it in `after`). */
export function tempDirs (): { dir: () => Promise<string>, removeAll: () => Promise<void> } {
  const dirs: string[] = []
  return {
    dir: async () => {
      const d = await tempDir('texmesh-crdt-')
      dirs.push(d)
      return d
    },
    removeAll: async () => { for (const d of dirs) await removeDir(d) }
  }
}

/** Stop a replica as a kill -9 would: its LevelDB closed under it, texts of the value store not yet written lost; no snapshot at close. */
export async function crash (r: Replica): Promise<void> {
  const inside = r as unknown as { serial: { idle: () => Promise<void> }, log: { close: () => Promise<void> }, values: { queue: number[], close: () => Promise<void> } }
  await inside.serial.idle()
  await inside.log.close()
  inside.values.queue = []
  await inside.values.close()
}

export function result (latex: string, time = 1): ResultEntry {
  return { latex, confidence: 0.9, alternatives: [{ latex: `${latex}'`, score: -3 }], model: 'texmesh-v1+test', time }
}

export async function first<T> (it: AsyncIterable<T>): Promise<T> {
  const iterator = it[Symbol.asyncIterator]()
  const next = await iterator.next()
  await iterator.return?.()
  if (next.done === true) throw new Error('empty')
  return next.value
}

/** Every own envelope a replica publishes. */
export function tap (r: Replica): Uint8Array[] {
  const out: Uint8Array[] = []
  r.onEnvelope(b => out.push(b))
  return out
}

/** A review entry (corrections map) naming `latex`, of an answer 'x' by model texmesh-v1+test. */
export function review (latex: string, time = 1): CorrectionEntry {
  return { latex, reviewed: { latex: 'x', model: 'texmesh-v1+test', confidence: 0.5, alternatives: [] }, time }
}
