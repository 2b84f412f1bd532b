import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import { ImageError } from '../../pipeline/preprocess.js'
import { MAX_K, MAX_QUERY_LATEX, MemoryLoadingError, MemoryUnavailableError, SearchError, type FormulaHit } from './memory.js'

/** The API's formula search: GET /v1/search?latex=...&k=10 (node/daemon/memory.ts), and POST /v1/search/image?k=10 with an image (image-memory.ts). */

export interface MemoryHandlers {
  search(latex: string, k: number): FormulaHit[]
  /** search by image (node/daemon/image-memory.ts): the formulas of the most similar images read before; SearchError when the image is not one formula */
  searchImage?(image: Buffer, k: number): Promise<{ images: number, hits: FormulaHit[] }>
  /** distinct formulas held */
  size(): number
}

const ImageQuery = z.object({ k: z.coerce.number().int().min(1).max(MAX_K).optional() }).strict()

const SearchQuery = z.object({
  latex: z.string().max(MAX_QUERY_LATEX, `at most ${MAX_QUERY_LATEX} characters`),
  k: z.coerce.number().int().min(1).max(MAX_K).optional()
}).strict()

/** 503: with Retry-After while the memory is being built, without when its build failed. */
async function unavailable (reply: FastifyReply, err: MemoryUnavailableError): Promise<FastifyReply> {
  if (err instanceof MemoryLoadingError) void reply.header('retry-after', '5')
  return await reply.code(503).send({ error: err.message })
}

export function addMemoryRoutes (app: FastifyInstance, handlers: MemoryHandlers): void {
  app.get('/v1/search', async (request, reply) => {
    const query = SearchQuery.safeParse(request.query)
    if (!query.success) return await reply.code(400).send({ error: `expected ?latex=FORMULA (at most ${MAX_QUERY_LATEX} characters) and optionally &k=1-${MAX_K}` })
    try {
      return { formulas: handlers.size(), hits: handlers.search(query.data.latex, query.data.k ?? 10) }
    } catch (err) {
      if (err instanceof SearchError) return await reply.code(400).send({ error: err.message })
      if (err instanceof MemoryUnavailableError) return await unavailable(reply, err)
      throw err
    }
  })

  const searchImage = handlers.searchImage
  if (searchImage == null) return
  app.post('/v1/search/image', async (request, reply) => {
    const query = ImageQuery.safeParse(request.query)
    if (!query.success) return await reply.code(400).send({ error: `expected optionally ?k=1-${MAX_K}` })
    if (!Buffer.isBuffer(request.body)) {
      return await reply.code(415).send({ error: 'POST the image bytes as the body, with Content-Type image/... or application/octet-stream' })
    }
    try {
      return await searchImage(request.body, query.data.k ?? 10)
    } catch (err) {
      if (err instanceof ImageError) return await reply.code(422).send({ error: err.message, reason: err.reason })
      if (err instanceof SearchError) return await reply.code(422).send({ error: err.message })
      if (err instanceof MemoryUnavailableError) return await unavailable(reply, err)
      throw err
    }
  })
}
