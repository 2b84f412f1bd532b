import type { Replica } from '../../crdt/replica.js'
import type { ResultEntry } from '../../crdt/schemas.js'
import { canonicalOrSelf } from '../../review/verdict.js'
import type { ResultView } from './task-view.js'
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
 * fewer than 1 in 1,000 distinct images wrongly (chosen again on 2026-12-07, when the pipeline
 * began to read at 0.88 of the measured glyph size: 0.99 and -8 reused 5 of 3,527 then).
 */
export const REUSE_MIN_COSINE = 0.98
/** The least log-probability any token of the remembered answer may have on the new image. */
export const REUSE_MIN_TOKEN_LOGPROB = -6
/** Remembered images checked per image, the most similar first. */
const CANDIDATES = 3
/** The confidence a reused answer carries (not calibrated: it is not the model's): the measured share of reuses that were right. */
export const REUSE_CONFIDENCE = 0.99

/** An answer the network stands by for an image: what reviewers settled on, or a certified result. */
export interface Remembered { latex: string, kind: 'reviewed' | 'certified', by: string[] }

export type Reused = NonNullable<ResultEntry['reused']>

/**
 * What the network stands by for an image, from the answer this node serves for it (`served`:
 * NodeTasks.answer, which checks the image's certificates first): its reviewers' answer (confirmed
 * or corrected), or else a certified answer (one that reviewers dispute stays the certified one).
 */
export function rememberedAnswer (served: ResultView | undefined, certifiedHolds: (by: string) => boolean): Remembered | undefined {
  if (served == null) return undefined
  const review = served.review
  if (review != null && review.state !== 'disputed') return { latex: review.latex, kind: 'reviewed', by: review.by.slice(0, 16) }
  return served.certificate != null && certifiedHolds(served.by) ? { latex: served.latex, kind: 'certified', by: [served.by] } : undefined
}

/** Whether the store may hold an answer the network stands by for an image (reviews, or a certificate): cheap, asked of every near image. */
export function mayRemember (replica: Replica, hash: string): boolean {
  if (replica.corrections(hash).size > 0) return true
  for (const r of replica.results(hash).values()) if (r.certificate != null) return true
  return false
}

/** A remembered answer that may replace a reading: its LaTeX (canonical), cosine, and its worst token's log-probability on the new image (undefined: not scored, or cannot be). */
export interface ReuseCandidate { latex: string, cosine: number, worst?: number }

/**
 * The rule, shared with bench:near-duplicates: candidates go most similar first; one whose answer
 * is the model's own reading ends the search (the reading stands, confirmed by memory); otherwise
 * the first whose worst token is at least REUSE_MIN_TOKEN_LOGPROB is reused. Gives its index.
 */
export function chooseReuse (reading: string, candidates: readonly ReuseCandidate[], minCosine = REUSE_MIN_COSINE, floor = REUSE_MIN_TOKEN_LOGPROB): number | undefined {
  for (const [i, c] of candidates.entries()) {
    if (c.cosine < minCosine || c.latex === reading) return undefined
    if (c.worst != null && c.worst >= floor) return i
  }
  return undefined
}

/** The candidates worth scoring: up to CANDIDATES distinct answers, most similar first, up to (and with) one that agrees with the reading. */
export function scoringOrder<T extends { latex: string }> (reading: string, nearest: Iterable<T>): T[] {
  const out: T[] = []
  for (const c of nearest) {
    if (out.some(o => o.latex === c.latex)) continue
    out.push(c)
    if (c.latex === reading || out.length === CANDIDATES) break
  }
  return out
}

export interface ReuseInit {
  images: ImageMemory
  /** a cheap first filter (mayRemember) */
  mayRemember: (hash: string) => boolean
  remembered: (hash: string) => Promise<Remembered | undefined>
  compute: Compute
  log: Log
}

/** `read`, or the remembered answer of a near-duplicate image in its place (with what it replaced). */
export async function reuseFromMemory (init: ReuseInit, image: Uint8Array, file: string, read: OcrResult): Promise<{ result: OcrResult, reused?: Reused }> {
  const vec = read.embedding != null ? decodeEmbedding(read.embedding) : undefined
  // An image the model cannot read (an array, prose) is not one a remembered formula answers.
  if (vec == null || init.compute.score == null || read.regions.length !== 1 || read.unreadable != null) return { result: read }
  const own = sha256Hex(image)
  const reading = canonicalOrSelf(read.latex)
  const query = Float32Array.from(vec, x => x / SCALE)
  const remembered: Array<Remembered & { hash: string, cosine: number }> = []
  for (const hit of init.images.near(query, read.model, 4 * CANDIDATES, REUSE_MIN_COSINE, hash => hash !== own && init.mayRemember(hash))) {
    const m = await init.remembered(hit.hash)
    if (m != null) remembered.push({ ...m, latex: canonicalOrSelf(m.latex), hash: hit.hash, cosine: hit.cosine })
  }
  const candidates = scoringOrder(reading, remembered)
  const toScore = candidates.filter(c => c.latex !== reading)
  if (toScore.length === 0) return { result: read }
  const scores = await init.compute.score(image, file, toScore.map(c => c.latex))
  const scored = candidates.map(c => {
    const worst = scores?.[toScore.indexOf(c)]?.worst
    return { ...c, ...(worst != null ? { worst } : {}) }
  })
  const at = chooseReuse(reading, scored)
  if (at == null) return { result: read }
  const c = scored[at]!
  init.log.info({ file, from: c.hash, kind: c.kind, cosine: Number(c.cosine.toFixed(4)), read: read.latex.slice(0, 200) }, 'answered a near-duplicate image from memory')
  const region = read.regions[0]!
  const alternatives = [{ latex: reading, score: region.score }, ...read.alternatives.filter(a => a.latex !== c.latex)]
  return {
    result: { ...read, latex: c.latex, confidence: REUSE_CONFIDENCE, alternatives, regions: [{ ...region, latex: c.latex, confidence: REUSE_CONFIDENCE, alternatives }] },
    reused: { hash: c.hash, kind: c.kind, by: c.by, cosine: Math.min(1, c.cosine), read: read.latex.slice(0, 4096), confidence: read.confidence }
  }
}
