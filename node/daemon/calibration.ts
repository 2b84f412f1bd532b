import type { Replica } from '../../crdt/replica.js'
import { fitCalibration, applyCurve, TARGET_PRECISION, type FittedCurve } from '../../review/calibration.js'
import type { Review } from '../../review/verdict.js'
import { EVERY_REVIEWER, type Reviewers } from './reviews.js'
import type { Log } from '../log.js'

/**
 * The network's calibration on this node: per model version, the curve fitted on every review in
 * the store (review/calibration.ts), refitted when reviews change; applied to the confidence of
 * every answer served; and the threshold `--critical-below auto` uses.
 *
 * Every node fits the same curve, so one records it in the store's `calibration` map (with the
 * points it was fitted on), for the record: the reviewer of that model with the smallest peer id,
 * when the curve changed and its reviews grew by RECORD_GROWTH since its last record (or shrank:
 * a revoked member's reviews stop counting, node/daemon/trust.ts).
 */

/** Reviews arrive in bursts (a catch-up, someone reviewing a page): the curve is recorded this long after a burst's first. */
export const RECORD_DELAY_MS = 2_000
/** A curve is recorded again once it stands on this share more reviews than the last record. */
export const RECORD_GROWTH = 0.1

export class NetworkCalibration {
  private readonly fitted = new Map<string, FittedCurve | undefined>()
  private readonly unsubscribe: Array<() => void>
  private timer: ReturnType<typeof setTimeout> | undefined
  private recording: Promise<void> = Promise.resolve()

  constructor (private readonly replica: Replica, private readonly log: Log, private readonly reviewers: Reviewers = EVERY_REVIEWER, private readonly recordDelayMs = RECORD_DELAY_MS) {
    this.unsubscribe = [
      replica.subscribe(change => { if (change.map === 'corrections') this.changed() }),
      reviewers.onChange(() => { this.changed() })
    ]
  }

  /** The reviews changed (or whose count): fit again, and record the curve a little later. */
  private changed (): void {
    this.fitted.clear()
    if (this.timer != null) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.recording = this.recording.then(async () => { await this.record() }).catch(err => { this.log.warn({ err }, 'recording the calibration curve failed') })
    }, this.recordDelayMs)
    this.timer.unref()
  }

  /** The network's curve for a model, once its reviews are enough. */
  curve (model: string): FittedCurve | undefined {
    if (!this.fitted.has(model)) this.fitted.set(model, fitCalibration(model, this.reviews()))
    return this.fitted.get(model)
  }

  /** A confidence the model gave, as the network's curve maps it (undefined: no curve yet, the shipped one stands). */
  calibrate (model: string, confidence: number): { confidence: number, reviews: number } | undefined {
    const c = this.curve(model)
    return c == null ? undefined : { confidence: applyCurve(c.curve, confidence), reviews: c.reviews }
  }

  /**
   * `--critical-below auto`: below this confidence a result goes to the quorum. The network's
   * threshold once there is a curve (1, every result, when no confidence reaches the target);
   * before that, the target itself on the shipped curve's scale.
   */
  autoThreshold (model: string): number {
    const c = this.curve(model)
    return c == null ? TARGET_PRECISION : c.threshold ?? 1
  }

  /** Record the curve of every model this node is the recorder of (the smallest reviewer id), when it grew enough. */
  async record (): Promise<void> {
    const reviews = this.reviews()
    const recorder = new Map<string, string>()
    for (const r of reviews) {
      const m = r.review.reviewed.model
      const current = recorder.get(m)
      if (current == null || r.author < current) recorder.set(m, r.author)
    }
    for (const [model, author] of recorder) {
      if (author !== this.replica.author) continue
      const c = this.curve(model)
      if (c == null) continue
      const last = this.replica.calibration(model).get(this.replica.author)
      const lastReviews = last?.reviews ?? last?.fittedOn.length ?? 0
      // Recorded again when it grew enough, or when it stands on fewer reviews (a reviewer revoked).
      if (last != null && (JSON.stringify(last.curve) === JSON.stringify(c.curve) || (c.reviews >= lastReviews && c.reviews < lastReviews * (1 + RECORD_GROWTH)))) continue
      await this.replica.putCalibration(model, { model, curve: c.curve, fittedOn: c.fittedOn, reviews: c.reviews, time: Date.now() })
      this.log.info({ model, reviews: c.reviews, threshold: c.threshold }, 'recorded the network\'s calibration curve')
    }
  }

  async stop (): Promise<void> {
    for (const u of this.unsubscribe) u()
    if (this.timer != null) clearTimeout(this.timer)
    await this.recording
  }

  private reviews (): Array<{ author: string, review: Review }> {
    return this.replica.reviews().filter(r => this.reviewers.counts(r.author)).map(r => ({ author: r.author, review: r.entry }))
  }
}

/** The network's curve of a model as the API shows it (null: not enough reviews yet, the shipped curve stands). */
export interface CalibrationView { curve: Array<[number, number]>, reviews: number, weight: number, threshold: number | null }

export function calibrationView (c: FittedCurve | undefined): CalibrationView | null {
  return c == null ? null : { curve: c.curve, reviews: c.reviews, weight: c.weight, threshold: c.threshold }
}
