/**
 * int8 vectors: a unit vector's components in [-1, 1] stored as whole numbers in [-127, 127],
 * four times smaller than float32. Scores between a float query and a stored vector are exact
 * up to the rounding (at most 1/254 per component).
 */

export const SCALE = 127

export function quantize (v: Float32Array): Int8Array {
  const q = new Int8Array(v.length)
  for (let i = 0; i < v.length; i++) q[i] = Math.max(-SCALE, Math.min(SCALE, Math.round(v[i]! * SCALE)))
  return q
}

export function dequantize (q: Int8Array): Float32Array {
  const v = new Float32Array(q.length)
  for (let i = 0; i < q.length; i++) v[i] = q[i]! / SCALE
  return v
}

/** Dot product of a float query and a stored int8 vector (cosine similarity, for unit vectors). */
export function dot (query: Float32Array, stored: Int8Array, offset = 0): number {
  let s = 0
  for (let i = 0; i < query.length; i++) s += query[i]! * stored[offset + i]!
  return s / SCALE
}
