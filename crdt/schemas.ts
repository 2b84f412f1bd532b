/**
 * What the replicated store holds, map by map: the shape and bounds of every entry. A value that
 * does not fit is refused on write and on receipt (crdt/replica.ts).
 */
import { z } from 'zod'
import type { MapName } from './authorship.js'

/** The longest LaTeX a result, region or correction holds (votes carry the same; see protocols/votes). */
export const MAX_RESULT_LATEX = 4096
/** The most regions (formulas of one image) a result holds. */
export const MAX_RESULT_REGIONS = 64
const latex = z.string().max(MAX_RESULT_LATEX)
export const ResultEntry = z.object({
  latex,
  confidence: z.number().min(0).max(1),
  alternatives: z.array(z.object({ latex, score: z.number() })).max(16),
  model: z.string().min(1).max(128),
  time: z.number().int().nonnegative(),
  /** The regions of a multi-formula image, top to bottom (the pipeline's segmentation). */
  regions: z.array(z.object({
    bbox: z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }),
    latex,
    confidence: z.number().min(0).max(1)
  })).max(MAX_RESULT_REGIONS).optional(),
  /** the task it answered (an id of the node that took the image: `texmesh result ID` there) */
  task: z.string().min(1).max(128).optional(),
  /** milliseconds the recognition took on the author's node */
  ms: z.number().nonnegative().optional(),
  /** the image was read turned by this many degrees (pipeline/ocr.ts) */
  rotated: z.union([z.literal(90), z.literal(270)]).optional(),
  /** why the reading is not to be trusted: the image is an array or prose, which the model cannot read (pipeline/unreadable.ts) */
  unreadable: z.object({ reason: z.enum(['array', 'text']), detail: z.string().max(256) }).optional(),
  /** The quorum certificate, for critical images (protocols/votes checks it when it reads one). */
  certificate: z.lazy(() => CertificateShape).optional(),
  /**
   * an image of one formula: what the model's encoder made of it (pipeline/image-embedding.ts: int8
   * as base64; a size this version does not know is ignored, not refused), for formula memory
   */
  embedding: z.string().max(1024).regex(/^[A-Za-z0-9+/]*=*$/).optional(),
  /** the answer was not read but taken from memory: the image is a near duplicate of one whose answer people reviewed or a quorum certified (node/daemon/reuse.ts) */
  reused: z.object({
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    /** reviewed or certified (open-ended, so that a later kind does not make older nodes refuse the entry) */
    kind: z.string().min(1).max(32),
    by: z.array(z.string().min(1).max(128)).max(16),
    cosine: z.number().min(-1).max(1),
    /** the model's own reading, which the remembered answer replaced, and its confidence */
    read: latex,
    confidence: z.number().min(0).max(1)
  }).optional()
})
export type ResultEntry = z.infer<typeof ResultEntry>

/**
 * A person's review of an image's answer, under "IMAGE_HASH/REVIEWER" (one per reviewer and
 * image, the latest): the LaTeX they say is right, canonical (a confirmation when it is the
 * reviewed answer itself), and what they reviewed, so that every node derives the same verdict
 * (review/verdict.ts) without the result it came from.
 */
export const CorrectionEntry = z.object({
  latex,
  reviewed: z.object({
    latex,
    model: z.string().min(1).max(128),
    confidence: z.number().min(0).max(1),
    alternatives: z.array(latex).max(16)
  }),
  time: z.number().int().nonnegative(),
  note: z.string().max(1024).optional()
})
export type CorrectionEntry = z.infer<typeof CorrectionEntry>

export const CalibrationEntry = z.object({
  model: z.string().min(1).max(128),
  /** [raw, calibrated] points of the curve */
  curve: z.array(z.tuple([z.number(), z.number()])).min(2).max(256),
  /** the points it was fitted on: [raw confidence, 1 if the answer was right else 0] (evenly thinned past 4,096) */
  fittedOn: z.array(z.tuple([z.number(), z.number()])).max(4096),
  /** how many reviews it was fitted on (the network's curves, review/calibration.ts) */
  reviews: z.number().int().nonnegative().optional(),
  time: z.number().int().nonnegative()
})
export type CalibrationEntry = z.infer<typeof CalibrationEntry>

export const MemberEntry = z.object({ certificate: z.string().min(1).max(8192), time: z.number().int().nonnegative() })
export type MemberEntry = z.infer<typeof MemberEntry>

/**
 * The shapes of what protocols/votes puts in the store, bounded here without knowing the
 * protocol (crdt imports nothing else): a signed vote is a flat record of scalars, and a quorum
 * certificate a record of scalars and lists of scalars or votes. Whoever reads one checks its
 * signatures; the store only makes sure it is small and shallow.
 */
const scalar = z.union([z.string().max(2 * MAX_RESULT_LATEX), z.number(), z.boolean(), z.null()])
const FlatRecord = z.record(z.string().max(64), scalar).refine(r => Object.keys(r).length <= 32, 'more than 32 fields')
const CertificateShape = z.record(z.string().max(64), z.union([scalar, z.array(z.union([scalar, FlatRecord])).max(128)]))
  .refine(r => Object.keys(r).length <= 32, 'more than 32 fields')

/** Two different signed votes of one voter on one task, as the reporting node saw them (checked by whoever reads them). */
export const EvidenceEntry = z.object({ votes: z.array(FlatRecord).length(2), time: z.number().int().nonnegative() })
export type EvidenceEntry = z.infer<typeof EvidenceEntry>

/** A revocation the network's admin signed (protocols/membership checks it when it reads one), as a node relays it. */
export const RevocationEntry = z.object({ revocation: z.string().min(1).max(2048), time: z.number().int().nonnegative() })
export type RevocationEntry = z.infer<typeof RevocationEntry>

export const SCHEMAS: Record<MapName, z.ZodType> = { results: ResultEntry, calibration: CalibrationEntry, corrections: CorrectionEntry, members: MemberEntry, evidence: EvidenceEntry, revocations: RevocationEntry }
