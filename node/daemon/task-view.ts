import type { Alternative, Box } from '../../pipeline/ocr.js'
import type { Unreadable } from '../../pipeline/unreadable.js'
import type { Replica } from '../../crdt/replica.js'
import type { TaskRecord, TaskState } from '../../protocols/tasks/queue.js'
import type { TaskServiceStats } from '../../protocols/tasks/index.js'
import type { QuorumCertificate, QuorumState } from '../../protocols/votes/index.js'
import type { CertifiedResults } from './certified.js'
import type { ResultEntry } from '../../crdt/schemas.js'
import type { ReviewOutcome } from '../../review/served.js'
import { rankUp } from '../../review/ranking.js'

/**
 * What the API and the CLI show of a task and its result (times as ISO 8601
 * strings), made from the queue's record and the replicated store.
 */

/** A result as `texmesh ocr --json` shows it, plus who wrote it. */
export interface ResultView {
  file: string
  latex: string
  confidence: number
  alternatives: Alternative[]
  regions: Array<{ bbox: Box, latex: string, confidence: number }>
  model: string
  ms: number | null
  /** the peer id of the node that recognised it (for a critical image: the origin that formed the certificate) */
  by: string
  /** read turned by this many degrees */
  rotated?: 90 | 270
  /** not a formula this model can read (an array, or prose): the reading has confidence 0 */
  unreadable?: Unreadable
  /** for a critical image: the quorum certificate (check it with texmesh verify) */
  certificate?: QuorumCertificate
  /** what people's reviews say (review/served.ts): corrected (latex is the correction), confirmed, or disputed */
  review?: ReviewView
  /** the confidence is the network's calibration (fitted on `reviews` reviews) of `from`, the model's own */
  calibration?: { from: number, reviews: number }
  /** the answer is the model's alternative number `alternative`, ranked up over `from` (review/ranking.ts) */
  rankedUp?: { from: string, alternative: number }
  /** the answer was taken from memory: the image is a near duplicate of image `hash`, whose answer was reviewed or certified (node/daemon/reuse.ts); `read` is the model's own reading */
  reused?: NonNullable<ResultEntry['reused']>
}

/** The reviews' outcome as a result shows it; a corrected one keeps the model's own answer as `original`. */
export type ReviewView = ReviewOutcome & { original?: { latex: string, confidence: number } }

export interface TaskView {
  id: string
  hash: string
  file: string
  state: TaskState
  critical: boolean
  submittedAt: string
  /** leases given out, and how many of them ran out and were granted again */
  grants: number
  regrants: number
  workers: string[]
  failures: Array<{ peer: string, reason: string }>
  doneAt?: string
  /** true when the answer was already in the replicated store at submission */
  cached: boolean
  result?: ResultView
  /** critical tasks: where the quorum stands */
  quorum?: QuorumState
  /** a critical task that ended without agreement: the votes it got */
  votes?: unknown[]
}

export interface TasksStats extends TaskServiceStats {
  queued: number
  leased: number
  done: number
  failedTasks: number
  regrants: number
  /** leases given out, over all of this node's tasks */
  grants: number
}

const toIso = (ms: number): string => new Date(ms).toISOString()

/** What a task's view is made from besides its record. */
export interface TaskViewSources {
  replica: Replica
  certified: CertifiedResults
  /** the model version this node reads with */
  model: string
  /** where a critical task's quorum stands, if it is under way here */
  quorumState: (id: string) => QuorumState | undefined
  /** what people's reviews of an image say of an answer */
  reviewOf: (hash: string, answer: { latex: string, certified: boolean }) => ReviewOutcome | undefined
  /** is a canonical formula one the network's reviewers settled on (for any image)? (undefined: none is yet) */
  known: ((canonical: string) => boolean) | undefined
  /** a model's confidence through the network's calibration curve, once there is one */
  calibrate: (model: string, confidence: number) => { confidence: number, reviews: number } | undefined
}

export function taskView (t: TaskRecord, from: TaskViewSources): TaskView {
  const cached = t.cached === true
  const v: TaskView = {
    id: t.id,
    hash: t.hash,
    file: t.file,
    state: t.state,
    critical: t.critical,
    submittedAt: toIso(t.submittedAt),
    grants: t.grants,
    regrants: t.regrants,
    workers: t.workers,
    failures: t.failures,
    cached
  }
  if (t.doneAt != null) v.doneAt = toIso(t.doneAt)
  if (t.votes != null) v.votes = t.votes
  if (t.critical && t.state !== 'done' && t.state !== 'no-consensus') {
    const q = from.quorumState(t.id)
    if (q != null) v.quorum = q
  }
  if (t.state === 'done') {
    // The result that finished the task (for a critical one: a certified one), else the best there is.
    const finisher = t.doneBy != null ? from.replica.results(t.hash).get(t.doneBy) : undefined
    const r = (t.critical
      ? (finisher != null && from.certified.holds(t.hash, t.doneBy!) ? { ...finisher, by: t.doneBy! } : from.certified.best(t.hash, undefined, true))
      : (finisher != null ? { ...finisher, by: t.doneBy! } : undefined)) ??
      (t.critical ? undefined : bestAnswer(t.hash, from))
    if (r != null) v.result = resultView(t.file, t.hash, r, from)
  }
  return v
}

/** The answer a node gives for an image it has no task for: certified first, then its own model's, then any. */
export function bestAnswer (hash: string, from: Pick<TaskViewSources, 'certified' | 'model'>): (ResultEntry & { by: string }) | undefined {
  return from.certified.best(hash, undefined, true) ?? from.certified.best(hash, from.model) ?? from.certified.best(hash, undefined)
}

/** A stored result as the API shows it, with what reviews say of it (a correction replaces the answer; see review/served.ts). */
export function resultView (file: string, hash: string, r: ResultEntry & { by: string }, from: Pick<TaskViewSources, 'certified' | 'reviewOf' | 'calibrate' | 'known'>): ResultView {
  // A remembered answer's confidence is reuse's measured precision, not the model's: it is not calibrated.
  const calibrated = r.unreadable == null && r.reused == null ? from.calibrate(r.model, r.confidence) : undefined
  const view: ResultView = {
    file,
    latex: r.latex,
    confidence: calibrated?.confidence ?? r.confidence,
    alternatives: r.alternatives,
    regions: r.regions ?? [],
    model: r.model,
    ms: r.ms ?? null,
    by: r.by,
    ...(r.rotated != null ? { rotated: r.rotated } : {}),
    ...(r.unreadable != null ? { unreadable: r.unreadable } : {}),
    ...(r.certificate != null ? { certificate: r.certificate as QuorumCertificate } : {}),
    ...(r.reused != null ? { reused: r.reused } : {}),
    ...(calibrated != null ? { calibration: { from: r.confidence, reviews: calibrated.reviews } } : {})
  }
  const certified = r.certificate != null && from.certified.holds(hash, r.by)
  const outcome = from.reviewOf(hash, { latex: r.latex, certified })
  if (outcome == null) {
    // Nobody reviewed this image: an alternative the network settled on elsewhere goes first (never
    // over a certificate). The confidence stays the model's for its own answer (below 0.9 by then).
    const rankable = !certified && r.unreadable == null && r.reused == null && (r.regions?.length ?? 0) <= 1 && r.alternatives.length > 0 && from.known != null
    const up = rankable ? rankUp(r, r.alternatives.map(a => a.latex), from.known!) : undefined
    return up == null ? view : { ...view, latex: up.latex, rankedUp: { from: r.latex, alternative: up.alternative } }
  }
  if (outcome.state !== 'corrected') return { ...view, review: outcome }
  // A person's correction is served at confidence 1, as the image's one region; the model's answer stays beside it.
  const { calibration: _, ...rest } = view
  const region = view.regions.length === 1 ? [{ ...view.regions[0]!, latex: outcome.latex, confidence: 1 }] : []
  return { ...rest, latex: outcome.latex, confidence: 1, regions: region, review: { ...outcome, original: { latex: r.latex, confidence: r.confidence } } }
}
