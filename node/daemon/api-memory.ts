import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { MAX_K, MAX_QUERY_LATEX, SearchError, type FormulaHit } from './memory.js'

/** The API's formula search: GET /v1/search?latex=...&k=10 (node/daemon/memory.ts). */

export interface MemoryHandlers {
  search(latex: string, k: number): FormulaHit[]
  /** distinct formulas held */
  size(): number
}

const SearchQuery = z.object({
  latex: z.string().max(MAX_QUERY_LATEX, `at most ${MAX_QUERY_LATEX} characters`),
  k: z.coerce.number().int().min(1).max(MAX_K).optional()
}).strict()

export function addMemoryRoutes (app: FastifyInstance, handlers: MemoryHandlers): void {
  app.get('/v1/search', async (request, reply) => {
    const query = SearchQuery.safeParse(request.query)
    if (!query.success) return await reply.code(400).send({ error: `expected ?latex=FORMULA (at most ${MAX_QUERY_LATEX} characters) and optionally &k=1-${MAX_K}` })
    try {
      return { formulas: handlers.size(), hits: handlers.search(query.data.latex, query.data.k ?? 10) }
    } catch (err) {
      if (err instanceof SearchError) return await reply.code(400).send({ error: err.message })
      throw err
    }
  })
}
