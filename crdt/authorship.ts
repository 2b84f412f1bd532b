import * as Y from 'yjs'
import { decodeValue } from './values.js'

/**
 * Yjs lets any peer overwrite or delete anything. texmesh accepts a remote
 * update only when it touches nothing but its author's own data:
 *
 * - every struct is written under one of the author's client ids;
 * - an item's origins (the neighbours it was inserted between) are the
 *   author's own items, so Yjs never infers a place under someone else's key
 *   and never replaces someone else's value;
 * - an item placed by name sits in one of the document's maps, under a key the
 *   author owns: the author's peer id itself, or a key ending in "/" + it;
 * - items hold plain values (no nested shared types): JSON text, or objects
 *   as older versions wrote them, bounded in depth and size (values.ts), so
 *   no later decode or check recurses out of stack;
 * - the delete set deletes only the author's own items.
 *
 * The check reads the update without applying it; decoding is guarded and the
 * caller caps its size, so a crafted update cannot crash or hang a node.
 */

export const MAPS = ['results', 'calibration', 'corrections', 'members', 'evidence', 'revocations'] as const
export type MapName = typeof MAPS[number]
const MAP_SET: ReadonlySet<string> = new Set(MAPS)

/** More structs than this in one update is refused (a local write makes a handful). */
export const MAX_STRUCTS = 10_000

export type AuthorshipRefusal = 'undecodable' | 'too-many-structs' | 'foreign-struct' | 'foreign-origin' | 'foreign-key' | 'bad-parent' | 'bad-content' |
  'too-deep' | 'too-large' | 'bad-value' | 'foreign-delete'

/**
 * The values an update writes: under a map and key when the update names them, else next to
 * the item `origin` (an overwrite of the author's own key: Yjs leaves the key to the origin).
 */
export interface WrittenValue {
  map?: string
  key?: string
  origin?: Y.ID
  value: unknown
}
export type AuthorshipCheck = { ok: true, values: WrittenValue[] } | { ok: false, reason: AuthorshipRefusal, detail: string }

/** Does `author` own map key `key`? */
export function ownsKey (key: string, author: string): boolean {
  return key === author || key.endsWith(`/${author}`)
}

/**
 * Check an update from `author`, whose bound client ids `isOwnClient` tells
 * (every incarnation the author has signed for, this envelope's included).
 */
export function checkAuthorship (update: Uint8Array, author: string, isOwnClient: (client: number) => boolean): AuthorshipCheck {
  let decoded: { structs: Array<Y.Item | Y.GC | Y.Skip>, ds: { clients: Map<number, unknown[]> } }
  try {
    // Values are bounded when accepted, so a stored update always decodes; a hostile deep one may
    // overflow the decoder's stack here, and is refused as undecodable.
    decoded = Y.decodeUpdate(update) as unknown as typeof decoded
  } catch (err) {
    return { ok: false, reason: 'undecodable', detail: `not a Yjs update (${(err as Error).message})` }
  }
  if (decoded.structs.length > MAX_STRUCTS) {
    return { ok: false, reason: 'too-many-structs', detail: `${decoded.structs.length} structs, over the limit of ${MAX_STRUCTS}` }
  }
  const values: WrittenValue[] = []
  // Where each item of this update sits (map and key), by client, in clock order: an item placed by
  // its origin alone sits where the origin does.
  const placed = new Map<number, Array<{ clock: number, end: number, map?: string, key?: string }>>()
  const placeOf = (id: Y.ID): { map?: string, key?: string } | undefined => {
    const list = placed.get(id.client)
    if (list == null) return undefined
    let lo = 0
    let hi = list.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const p = list[mid]!
      if (id.clock < p.clock) hi = mid - 1
      else if (id.clock >= p.end) lo = mid + 1
      else return p
    }
    return undefined
  }
  for (const s of decoded.structs) {
    if (s instanceof Y.Skip) return { ok: false, reason: 'bad-content', detail: 'skip structs are not sent by texmesh nodes' }
    if (!isOwnClient(s.id.client)) return { ok: false, reason: 'foreign-struct', detail: `a struct under client ${s.id.client}, not the author's` }
    if (s instanceof Y.GC) continue
    const item = s
    for (const o of [item.origin, item.rightOrigin]) {
      if (o != null && !isOwnClient(o.client)) return { ok: false, reason: 'foreign-origin', detail: `an item placed next to client ${o.client}'s item` }
    }
    if (item.parent != null) {
      if (typeof item.parent !== 'string' || !MAP_SET.has(item.parent)) {
        return { ok: false, reason: 'bad-parent', detail: 'an item outside the document\'s maps' }
      }
      if (typeof item.parentSub !== 'string' || !ownsKey(item.parentSub, author)) {
        return { ok: false, reason: 'foreign-key', detail: `key ${String(item.parentSub).slice(0, 120)} in ${item.parent} is not the author's` }
      }
    } else if (item.origin == null && item.rightOrigin == null) {
      return { ok: false, reason: 'bad-parent', detail: 'an item with neither parent nor origin' }
    }
    if (!(item.content instanceof Y.ContentAny) && !(item.content instanceof Y.ContentDeleted)) {
      return { ok: false, reason: 'bad-content', detail: `${item.content.constructor.name}: only plain values are allowed` }
    }
    const origin = item.origin ?? item.rightOrigin ?? undefined
    const place = typeof item.parent === 'string' ? { map: item.parent, key: item.parentSub ?? undefined } : origin != null ? placeOf(origin) : undefined
    let list = placed.get(item.id.client)
    if (list == null) placed.set(item.id.client, list = [])
    list.push({ clock: item.id.clock, end: item.id.clock + item.length, ...place })
    if (item.content instanceof Y.ContentAny) {
      for (const raw of item.content.arr) {
        const decoded = decodeValue(raw)
        if (!('value' in decoded)) return { ok: false, ...decoded }
        const { value } = decoded
        values.push(place?.map != null ? { map: place.map, key: place.key, value } : { origin, value })
      }
    }
  }
  for (const client of decoded.ds.clients.keys()) {
    if (!isOwnClient(client)) return { ok: false, reason: 'foreign-delete', detail: `deletes items of client ${client}` }
  }
  return { ok: true, values }
}
