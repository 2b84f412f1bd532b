import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { DocumentError } from '../../documents/errors.js'
import type { DocumentView } from './documents.js'

/**
 * The API's documents (node/daemon/documents.ts): POST /v1/documents?name=FILE with a PDF,
 * GET /v1/documents?limit=N, GET /v1/documents/ID (?export=markdown or latex: the document as text),
 * POST /v1/documents/ID/retry with {"pages": [N, ...]} or {} (the pages that need it): pages prepared again,
 * DELETE /v1/documents/ID: the document gone from this node (its formulas' results stay).
 */
export interface DocumentHandlers {
  submit(pdf: Buffer, file: string): Promise<DocumentView>
  get(id: string): Promise<DocumentView | undefined>
  list(limit: number): Promise<DocumentView[]>
  export(id: string, format: 'markdown' | 'latex'): Promise<string | undefined>
  retry(id: string, pages?: number[]): Promise<DocumentView | undefined>
  remove(id: string): Promise<boolean>
}

const RetryBody = z.object({ pages: z.array(z.number().int().min(1)).min(1).max(10_000).optional() }).strict()

const GetQuery = z.object({ export: z.enum(['markdown', 'latex']).optional() }).strict()

const SubmitQuery = z.object({ name: z.string().min(1).max(1024).optional() }).strict()
const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() }).strict()

export function addDocumentRoutes (app: FastifyInstance, handlers: DocumentHandlers): void {
  app.post('/v1/documents', async (request, reply) => {
    const query = SubmitQuery.safeParse(request.query)
    if (!query.success) return await reply.code(400).send({ error: 'expected optionally ?name=FILE (a file name of at most 1024 characters)' })
    if (!Buffer.isBuffer(request.body)) {
      return await reply.code(415).send({ error: 'POST the PDF bytes as the body, with Content-Type application/pdf or application/octet-stream' })
    }
    const file = query.data.name ?? 'document.pdf'
    try {
      return await handlers.submit(request.body, file)
    } catch (err) {
      if (err instanceof DocumentError) return await reply.code(err.reason === 'busy' ? 503 : 422).send({ file, error: err.message, reason: err.reason })
      throw err
    }
  })
  app.get('/v1/documents', async (request, reply) => {
    const query = ListQuery.safeParse(request.query)
    if (!query.success) return await reply.code(400).send({ error: 'expected optionally ?limit=1-1000' })
    return await handlers.list(query.data.limit ?? 50)
  })
  app.get<{ Params: { id: string } }>('/v1/documents/:id', async (request, reply) => {
    const query = GetQuery.safeParse(request.query)
    if (!query.success) return await reply.code(400).send({ error: 'expected optionally ?export=markdown or ?export=latex' })
    const missing = async (): Promise<never> => await reply.code(404).send({ error: `no document ${request.params.id.slice(0, 80)} on this node (GET /v1/documents lists them)` })
    if (query.data.export != null) {
      const text = await handlers.export(request.params.id, query.data.export)
      if (text == null) return await missing()
      return await reply.type(query.data.export === 'markdown' ? 'text/markdown; charset=utf-8' : 'application/x-tex; charset=utf-8').send(text)
    }
    return await handlers.get(request.params.id) ?? await missing()
  })
  app.delete<{ Params: { id: string } }>('/v1/documents/:id', async (request, reply) => {
    try {
      if (await handlers.remove(request.params.id)) return { deleted: request.params.id }
      return await reply.code(404).send({ error: `no document ${request.params.id.slice(0, 80)} on this node (GET /v1/documents lists them)` })
    } catch (err) {
      if (err instanceof DocumentError) return await reply.code(409).send({ error: err.message, reason: err.reason })
      throw err
    }
  })
  app.post<{ Params: { id: string } }>('/v1/documents/:id/retry', async (request, reply) => {
    const body = RetryBody.safeParse(request.body ?? {})
    if (!body.success) return await reply.code(400).send({ error: 'expected a JSON body {} or {"pages": [1, 2, ...]} (page numbers from 1)' })
    try {
      return await handlers.retry(request.params.id, body.data.pages) ??
        await reply.code(404).send({ error: `no document ${request.params.id.slice(0, 80)} on this node (GET /v1/documents lists them)` })
    } catch (err) {
      if (err instanceof RangeError) return await reply.code(400).send({ error: err.message })
      if (err instanceof DocumentError) return await reply.code(409).send({ error: err.message, reason: err.reason })
      throw err
    }
  })
}
