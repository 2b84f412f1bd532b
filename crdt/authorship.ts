import * as Y from 'yjs'

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
 * - items hold plain values (no nested shared types);
 * - the delete set deletes only the author's own items.
 *
 * The check reads the update without applying it; decoding is guarded and the
 * caller caps its size, so a crafted update cannot crash or hang a node.
 */

export const MAPS = ['results', 'calibration', 'corrections', 'members', 'evidence'] as const
export type MapName = typeof MAPS[number]
const MAP_SET: ReadonlySet<string> = new Set(MAPS)

/** More structs than this in one update is refused (a local write makes a handful). */
export const MAX_STRUCTS = 10_000

export type AuthorshipRefusal = 'undecodable' | 'too-many-structs' | 'foreign-struct' | 'foreign-origin' | 'foreign-key' | 'bad-parent' | 'bad-content' | 'foreign-delete'
export type AuthorshipCheck = { ok: true } | { ok: false, reason: AuthorshipRefusal, detail: string }

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
    decoded = Y.decodeUpdate(update) as unknown as typeof decoded
  } catch (err) {
    return { ok: false, reason: 'undecodable', detail: `not a Yjs update (${(err as Error).message})` }
  }
  if (decoded.structs.length > MAX_STRUCTS) {
    return { ok: false, reason: 'too-many-structs', detail: `${decoded.structs.length} structs, over the limit of ${MAX_STRUCTS}` }
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
  }
  for (const client of decoded.ds.clients.keys()) {
    if (!isOwnClient(client)) return { ok: false, reason: 'foreign-delete', detail: `deletes items of client ${client}` }
  }
  return { ok: true }
}
