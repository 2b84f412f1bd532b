import type { Replica } from '../../crdt/replica.js'
import type { ResultEntry } from '../../crdt/schemas.js'
import { canonicalOrSelf } from '../../review/verdict.js'
import type { ReviewOutcome } from '../../review/served.js'
import type { OcrResult } from '../../pipeline/ocr.js'
import { decodeEmbedding } from '../../pipeline/image-embedding.js'
import { SCALE } from '../../memory/quantize.js'
import { sha256Hex } from '../../util/sha256.js'
import type { Compute } from './compute.js'
import type { ImageMemory } from './image-memory.js'
import type { Log } from '../log.js'

/**
 * Near-duplicate reuse: a node that has read an image of one formula looks it up by its image
 * embedding among the images whose answer people reviewed or a quorum certified. When one is
 * nearly identical, and the model, fed that image's answer on the new image (one teacher-forced
 * pass, pipeline/forced.ts), finds every token of it likely enough, the new image is answered with
 * it, saying so. The thresholds are bench:near-duplicates' (README, "Near-duplicate images"):
 * measured on re-scans and on images of distinct formulas, they reuse
 * fewer than 1 in 1,000 distinct images wrongly.
 */
export const REUSE_MIN_COSINE = 0.9
/** The least log-probability any token of the remembered answer may have on the new image. */
export const REUSE_MIN_TOKEN_LOGPROB = -4
/** Remembered images checked per image, the most similar first. */
const CANDIDATES = 3
/** The confidence a reused answer carries: the measured share of reuses that were right. */
export const REUSE_CONFIDENCE = 0.99

/** An answer the network stands by for an image: what reviewers settled on, or a certified result. */
export interface Remembered { latex: string, kind: 'reviewed' | 'certified', by: string[] }

export type Reused = NonNullable<ResultEntry['reused']>

/**
 * What the network stands by for an image, if anything: its reviewers' answer (confirmed or
 * corrected), or else the answer of a result whose quorum certificate holds here (a certified
 * answer that reviewers dispute stays the certified one, as everywhere).
 */
export function rememberedAnswers (replica: Replica, holds: (hash: string, author: string) => boolean,
  reviewOf: (hash: string, answer: { latex: string, certified: boolean }) => ReviewOutcome | undefined): (hash: string) => Remembered | undefined {
  return hash => {
    const results = [...replica.results(hash)]
    const certified = results.find(([author, r]) => r.certificate != null && holds(hash, author))
    const answer = certified?.[1] ?? results[0]?.[1]
    if (answer == null) return undefined
    const outcome = reviewOf(hash, { latex: answer.latex, certified: certified != null })
    if (outcome != null && outcome.state !== 'disputed') return { latex: outcome.latex, kind: 'reviewed', by: outcome.by.slice(0, 16) }
    return certified != null ? { latex: certified[1].latex, kind: 'certified', by: [certified[0]] } : undefined
  }
}

export interface ReuseInit {
  images: ImageMemory
  remembered: (hash: string) => Remembered | undefined
  compute: Compute
  log: Log
}

/** `read`, or the remembered answer of a near-duplicate image in its place (with what it replaced). */
export async function reuseFromMemory (init: ReuseInit, image: Uint8Array, file: string, read: OcrResult): Promise<{ result: OcrResult, reused?: Reused }> {
  const vec = read.embedding != null ? decodeEmbedding(read.embedding) : undefined
  if (vec == null || init.compute.score == null || read.regions.length !== 1) return { result: read }
  const own = sha256Hex(image)
  const answer = canonicalOrSelf(read.latex)
  const query = Float32Array.from(vec, x => x / SCALE)
  const candidates: Array<Remembered & { hash: string, cosine: number }> = []
  for (const hit of init.images.near(query, read.model, 4 * CANDIDATES, REUSE_MIN_COSINE, hash => hash !== own)) {
    const m = init.remembered(hit.hash)
    // An image whose remembered answer is the model's own reading gains nothing from reuse.
    if (m == null || canonicalOrSelf(m.latex) === answer || candidates.some(c => c.latex === m.latex)) continue
    candidates.push({ ...m, hash: hit.hash, cosine: hit.cosine })
    if (candidates.length === CANDIDATES) break
  }
  if (candidates.length === 0) return { result: read }
  const scores = await init.compute.score(image, file, candidates.map(c => c.latex))
  const at = candidates.findIndex((_, i) => (scores?.[i]?.worst ?? -Infinity) >= REUSE_MIN_TOKEN_LOGPROB)
  if (at < 0) return { result: read }
  const c = candidates[at]!
  const confidence = Math.max(REUSE_CONFIDENCE, read.confidence)
  init.log.info({ file, from: c.hash, kind: c.kind, cosine: Number(c.cosine.toFixed(4)), read: read.latex.slice(0, 200) }, 'answered a near-duplicate image from memory')
  const region = read.regions[0]!
  const alternatives = [{ latex: answer, score: region.score }, ...read.alternatives.filter(a => a.latex !== c.latex)]
  return {
    result: { ...read, latex: c.latex, confidence, alternatives, regions: [{ ...region, latex: c.latex, confidence, alternatives }] },
    reused: { hash: c.hash, kind: c.kind, by: c.by, cosine: Math.min(1, c.cosine), read: read.latex.slice(0, 4096) }
  }
}
