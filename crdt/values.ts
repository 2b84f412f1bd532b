/**
 * Bounds on the plain values the store holds. Yjs's decoder, JSON, zod and the
 * API all recurse over a value's nesting, and how deep a recursion may go
 * before the stack runs out depends on what the JIT has warmed up: a value
 * that decoded once may not decode at the next start. So no value deeper than
 * MAX_VALUE_DEPTH, or with more than MAX_VALUE_NODES parts, ever enters the
 * store; this check itself walks with an explicit stack, never recursing.
 */

/** Nesting a store value may have: a result with its certificate and votes is 6 deep. */
export const MAX_VALUE_DEPTH = 12
/** Arrays, objects and scalars in one value (a result with 64 regions and 16 alternatives is about 600). */
export const MAX_VALUE_NODES = 20_000
/** Keys that would reach an object's prototype if a reader copied the value carelessly. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

export type ValueRefusal = { reason: 'too-deep' | 'too-large' | 'bad-value', detail: string }

/** Why a value is refused, or null when it is a bounded plain JSON value. */
export function checkValue (value: unknown, maxDepth = MAX_VALUE_DEPTH, maxNodes = MAX_VALUE_NODES): ValueRefusal | null {
  // The stack as two arrays (values, depths), not pairs: this runs on every write and every value received.
  const values: unknown[] = [value]
  const depths: number[] = [1]
  let nodes = 0
  while (values.length > 0) {
    const v = values.pop()
    const depth = depths.pop()!
    if (++nodes > maxNodes) return { reason: 'too-large', detail: `a value of more than ${maxNodes} parts` }
    if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') continue
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { reason: 'bad-value', detail: 'a number that is not finite' }
      continue
    }
    if (typeof v !== 'object') return { reason: 'bad-value', detail: `a ${typeof v}, not a JSON value` }
    if (depth > maxDepth) return { reason: 'too-deep', detail: `a value nested deeper than ${maxDepth} levels` }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        values.push(v[i])
        depths.push(depth + 1)
      }
    } else if (v instanceof Uint8Array) {
      return { reason: 'bad-value', detail: 'binary content in a value' }
    } else if (Object.getPrototypeOf(v) !== Object.prototype) {
      // Decoders assign keys (obj[key] = value), so a "__proto__" key arrives as the object's prototype:
      // not an own key this walk would see, and anything hidden there would escape these bounds.
      return { reason: 'bad-value', detail: 'an object that is not plain (a key named __proto__)' }
    } else {
      const o = v as Record<string, unknown>
      for (const k of Object.keys(o)) {
        if (FORBIDDEN_KEYS.has(k)) return { reason: 'bad-value', detail: `a key named ${k}` }
        values.push(o[k])
        depths.push(depth + 1)
      }
    }
  }
  return null
}

/**
 * How values are held in the document: as JSON text, one string for Yjs to carry and decode,
 * not a tree of parts (a result decodes about 2.5 times faster, and takes less memory).
 * Objects written by older versions are read as they are.
 */
export function encodeValue (value: unknown): string {
  return JSON.stringify(value)
}

/** A value as written in an update (JSON text, or an object of an older version), checked against the bounds. */
export function decodeValue (raw: unknown): { value: unknown } | ValueRefusal {
  let value = raw
  if (typeof raw === 'string') {
    try {
      // V8's JSON parser does not recurse: a hostile deep text cannot run it out of stack.
      value = JSON.parse(raw)
    } catch {
      return { reason: 'bad-value', detail: 'a value that is not JSON text' }
    }
  }
  return checkValue(value) ?? { value }
}

/** A value of the document, already checked when it was accepted, as a plain value; undefined for none. */
export function readValue (raw: unknown): unknown {
  if (typeof raw !== 'string') return raw
  try {
    return JSON.parse(raw)
  } catch {
    return undefined
  }
}
