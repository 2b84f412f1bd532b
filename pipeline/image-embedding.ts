/**
 * An image's embedding for formula memory (memory/, node/daemon/memory.ts): what the model's
 * encoder made of the formula, as one short unit vector, so that a re-scan, a crop or another
 * resolution of a formula lands next to it.
 *
 * The encoder's memory is a grid of feature vectors (v2: canvas height / 16 rows by width / 8
 * columns). Pooling it whole loses where each symbol sits, which is what tells the grammar's
 * near-twins (one symbol apart) from each other; so the columns are cut into CELLS equal cells
 * across the canvas (the formula and its margin, padded to the canvas step), each cell's features
 * averaged over its rows and columns, and the
 * cells concatenated (CELLS x D), then projected to DIMENSIONS by a fixed random projection
 * (seeded: every node computes the same) and normalised. Measured by bench:near-duplicates.
 */
import { quantize } from '../memory/quantize.js'

/** Cells across the width. */
export const CELLS = 8
/** The embedding's length. */
export const IMAGE_DIMENSIONS = 128
/** The encoder's downsampling: rows and columns of its grid per canvas pixel. */
const GRID_ROW = 16
const GRID_COL = 8
const PROJECTION_SEED = 0x7e3a11

const projections = new Map<number, Float32Array>()

/** A fixed Gaussian projection from `inputs` to IMAGE_DIMENSIONS (mulberry32 and Box-Muller), made once per width. */
function projection (inputs: number): Float32Array {
  let p = projections.get(inputs)
  if (p != null) return p
  let s = PROJECTION_SEED >>> 0
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296
  }
  p = new Float32Array(inputs * IMAGE_DIMENSIONS)
  for (let i = 0; i < p.length; i++) p[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform())
  projections.set(inputs, p)
  return p
}

/**
 * The unit embedding of one canvas's encoder memory ([1, S, D] as a flat array, S = rows x
 * columns of the grid), or undefined when the memory is not the grid this expects.
 */
export function imageEmbedding (memory: Float32Array, height: number, width: number, dim: number): Float32Array | undefined {
  const rows = height / GRID_ROW
  const cols = width / GRID_COL
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || memory.length !== rows * cols * dim) return undefined
  const pooled = new Float32Array(CELLS * dim)
  for (let c = 0; c < CELLS; c++) {
    const from = Math.floor((c * cols) / CELLS)
    const to = Math.max(from + 1, Math.floor(((c + 1) * cols) / CELLS))
    const cell = pooled.subarray(c * dim, (c + 1) * dim)
    for (let r = 0; r < rows; r++) {
      for (let k = from; k < to; k++) {
        const at = (r * cols + k) * dim
        for (let d = 0; d < dim; d++) cell[d]! += memory[at + d]!
      }
    }
    const n = rows * (to - from)
    for (let d = 0; d < dim; d++) cell[d]! /= n
  }
  const p = projection(pooled.length)
  const out = new Float32Array(IMAGE_DIMENSIONS)
  for (let i = 0; i < pooled.length; i++) {
    const x = pooled[i]!
    if (x === 0) continue
    const row = p.subarray(i * IMAGE_DIMENSIONS, (i + 1) * IMAGE_DIMENSIONS)
    for (let j = 0; j < IMAGE_DIMENSIONS; j++) out[j]! += x * row[j]!
  }
  let norm = 0
  for (const x of out) norm += x * x
  norm = Math.sqrt(norm)
  if (!(norm > 0)) return undefined
  for (let j = 0; j < IMAGE_DIMENSIONS; j++) out[j]! /= norm
  return out
}

/** An embedding as results carry it: int8 components (memory/quantize.ts), base64. */
export function encodeEmbedding (v: Float32Array): string {
  const q = quantize(v)
  return Buffer.from(q.buffer, q.byteOffset, q.byteLength).toString('base64')
}

/** A carried embedding back as int8 components, or undefined when it is not IMAGE_DIMENSIONS of them. */
export function decodeEmbedding (s: string): Int8Array | undefined {
  const b = Buffer.from(s, 'base64')
  if (b.length !== IMAGE_DIMENSIONS) return undefined
  return new Int8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))
}
