import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { MAX_RESULT_LATEX } from '../../crdt/schemas.js'
import type { ModelStats } from '../../review/stats.js'
import type { CalibrationView } from './calibration.js'
import { magicFormat } from '../../pipeline/preprocess.js'
import { ReviewError, type ListedReview, type ReviewedImage, type ReviewRequest, type WrittenReview } from './reviews.js'

/**
 * The API's review calls: POST /v1/reviews (correct, confirm, or pick an alternative of the
 * answer served for a task id or an image hash), GET /v1/reviews/HASH (an image's reviews and
 * their verdicts), GET /v1/reviews (every reviewed image and its settled formula), GET
 * /v1/images/HASH (an image this node holds), GET /v1/stats (per model version: reviews,
 * verdicts, accuracy, calibration).
 */

/** A model's review statistics, and the network's calibration curve for it once reviews suffice. */
export type StatsView = ModelStats & { calibration: CalibrationView | null }

export interface ReviewHandlers {
  review(target: string, request: ReviewRequest): Promise<WrittenReview>
  reviews(hash: string): ListedReview[]
  stats(): StatsView[]
  /** every reviewed image and the formula its reviewers settled on */
  reviewed(): ReviewedImage[]
  /** an image's bytes, when this node holds them (its own tasks' images) */
  image(hash: string): Promise<Uint8Array | undefined>
}

const ReviewBody = z.object({
  /** a task id of this node, or an image's SHA-256 */
  target: z.string().min(1).max(128),
  latex: z.string().min(1).max(MAX_RESULT_LATEX).optional(),
  alternative: z.number().int().min(1).max(16).optional(),
  note: z.string().max(1024).optional()
}).strict()

export function addReviewRoutes (app: FastifyInstance, handlers: ReviewHandlers): void {
  app.post('/v1/reviews', async (request, reply) => {
    const body = ReviewBody.safeParse(request.body)
    if (!body.success) return await reply.code(400).send({ error: 'expected {"target": TASK_ID_OR_IMAGE_HASH} to confirm, with "latex": "..." to correct, or "alternative": N to pick one' })
    const { target, ...rest } = body.data
    try {
      return await handlers.review(target, rest)
    } catch (err) {
      if (err instanceof ReviewError) return await reply.code(err.status).send({ error: err.message })
      throw err
    }
  })
  app.get<{ Params: { hash: string } }>('/v1/reviews/:hash', async (request) => handlers.reviews(request.params.hash))
  app.get('/v1/stats', async () => handlers.stats())
  app.get('/v1/reviews', async () => handlers.reviewed())
  app.get<{ Params: { hash: string } }>('/v1/images/:hash', async (request, reply) => {
    const bytes = await handlers.image(request.params.hash)
    if (bytes == null) return await reply.code(404).send({ error: 'this node does not hold that image (only its own tasks\' images)' })
    const format = magicFormat(bytes)
    return await reply.type(format != null ? `image/${format}` : 'application/octet-stream').send(Buffer.from(bytes))
  })
}
