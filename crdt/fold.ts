/**
 * A run of one client's consecutive updates folded into one update, without a document: the
 * updates are merged (Y.mergeUpdates), and the items the run itself deleted (an entry written
 * again within the run) lose their content, as a garbage-collecting document would keep them:
 * the item stays, so that later items can name it as their origin, with a ContentDeleted of its
 * length. The cost is that of the run alone, whatever came before it.
 */
import * as Y from 'yjs'
import { writeVarUint } from 'lib0/encoding'

/** Whether [clock, clock + len) lies inside one of `ranges` (sorted, not overlapping, as a merged delete set holds them). */
function inside (ranges: ReadonlyArray<{ clock: number, len: number }>, clock: number, len: number): boolean {
  let lo = 0
  let hi = ranges.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const r = ranges[mid]!
    if (r.clock + r.len <= clock) lo = mid + 1
    else if (r.clock > clock) hi = mid - 1
    else return clock + len <= r.clock + r.len
  }
  return false
}

/**
 * One update holding what `updates` (one client's, consecutive) hold, with the content of items
 * deleted within them dropped; undefined when they are not that (several clients, or a gap in
 * the clocks, which Yjs would carry as a Skip that no peer takes). Deletions alone fold into
 * their merged delete set.
 */
export function foldUpdates (updates: readonly Uint8Array[]): Uint8Array | undefined {
  const merged = Y.mergeUpdates(updates as Uint8Array[])
  const { structs, ds } = Y.decodeUpdate(merged)
  const first = structs[0]
  // Deletions alone: the merged delete set is the fold.
  if (first == null) return merged
  if (structs.some(s => s.id.client !== first.id.client || !(s instanceof Y.Item || s instanceof Y.GC))) return undefined
  const deleted = ds.clients.get(first.id.client) ?? []
  let dropped = false
  for (const s of structs) {
    if (s instanceof Y.Item && !(s.content instanceof Y.ContentDeleted) && inside(deleted, s.id.clock, s.length)) {
      s.content = new Y.ContentDeleted(s.length)
      dropped = true
    }
  }
  if (!dropped) return merged
  // Written as Yjs writes an update (v1): the client's structs from its first clock, then the delete set.
  const encoder = new Y.UpdateEncoderV1()
  writeVarUint(encoder.restEncoder, 1)
  writeVarUint(encoder.restEncoder, structs.length)
  encoder.writeClient(first.id.client)
  writeVarUint(encoder.restEncoder, first.id.clock)
  for (const s of structs) s.write(encoder, 0)
  const clients = [...ds.clients.entries()].sort((a, b) => b[0] - a[0])
  writeVarUint(encoder.restEncoder, clients.length)
  for (const [client, ranges] of clients) {
    encoder.resetDsCurVal()
    writeVarUint(encoder.restEncoder, client)
    writeVarUint(encoder.restEncoder, ranges.length)
    for (const r of ranges) {
      encoder.writeDsClock(r.clock)
      encoder.writeDsLen(r.len)
    }
  }
  return encoder.toUint8Array()
}
