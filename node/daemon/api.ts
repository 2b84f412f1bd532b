import Fastify, { type FastifyInstance } from 'fastify'
import { z } from 'zod'
import { PortInUseError } from '../errors.js'
import type { Log } from '../log.js'
import { ImageError } from '../../pipeline/preprocess.js'
import type { OcrResult } from '../../pipeline/ocr.js'
import type { TaskView, TasksStats } from './work.js'
import type { PeerMembership } from '../../protocols/membership/index.js'
import type { QuorumTimings } from '../../protocols/votes/index.js'
import { browserSide } from './api-browser.js'
import { addReviewRoutes, type ReviewHandlers } from './api-reviews.js'
import { addMemoryRoutes, type MemoryHandlers } from './api-memory.js'
import { addDocumentRoutes, type DocumentHandlers } from './api-documents.js'
import { answerUnknownCalls, BODY_LIMIT_BYTES, guardRequests, handleErrors, parseBodies } from './http.js'
import { serveWeb } from './web.js'
import type { VerifyCheck } from '../cli/verify.js'

export { SESSION_CHANGE_HEADER } from './http.js'

/**
 * The local HTTP API: JSON on 127.0.0.1 only, and the web interface beside it.
 * Other origins are kept out (a request whose Origin header is not the API's own,
 * or whose Sec-Fetch-Site is cross-site or same-site, is refused, and the Host
 * header must name loopback, which defeats DNS rebinding), and every call that
 * changes something needs the bearer token from the data dir, or a browser session
 * (see sessions.ts) together with the header `X-Texmesh: 1`.
 * This file has the /v1 routes and the API's types; http.ts the guards, error handler and
 * body parsers every route shares; api-browser.ts the browser sessions and the event stream.
 */

/** A membership state as the API shows it: times as ISO 8601 strings, like every time the API gives. */
export type MembershipView = Exclude<PeerMembership, { state: 'member' }> | { state: 'member', expiresAt: string }

export function membershipView (m: PeerMembership): MembershipView {
  return m.state === 'member' ? { state: 'member', expiresAt: new Date(m.expiresAt).toISOString() } : m
}

/** What installing a certificate answers. */
export interface CertificateView { peer: string, network: string, issuedAt: string, expiresAt: string }

export interface ApiStatus {
  peerId: string
  addresses: string[]
  network: { name: string | null, private: boolean, admin?: string, membership?: MembershipView }
  peers: number
  version: string
  uptimeS: number
  dataDir: string
  /** the model version this node's results carry */
  model?: string
  /** work sharing: this node's queue and its workers */
  tasks?: TasksStats
  /** critical tasks: where ballots' time goes on this node, as origin and as voter (percentiles of recent ones, ms) */
  quorum?: QuorumTimings
  /** the replicated store: entries held (one per image and reader; a new node's counts grow as it catches up) */
  store?: { results: number, corrections: number }
  /** formula memory: distinct formulas held, whether it is still being built from the store (a node just started; search answers 503 meanwhile), store changes not yet taken into it (they wait while the store applies a catch-up), and why its build failed if it did */
  memory?: { formulas: number, loading: boolean, behind: number, failed?: string }
  /** store entries set aside at start-up because they no longer decode or check (see the README: "Stored data never stops a start") */
  quarantined?: Array<{ author: string | null, reason: string, time: string, bytes: number }>
}

export interface ApiPeer {
  id: string
  addresses: string[]
  latencyMs: number | null
  direction: string
  membership: MembershipView
  /** caught signing two different votes on one task: its votes no longer count */
  equivocated?: boolean
  /** what identify says the peer runs: its texmesh version and model (agent: anything else it said) */
  version?: string
  model?: string
  agent?: string
  /** its load as it last gossiped it: tasks queued, worker slots busy of all, seconds ago */
  load?: { queued: number, running: number, capacity: number, heardS: number }
}

/** A member of the network as the replicated store knows it (its certificate checked against the admin key). */
export interface ApiMember {
  peer: string
  issuedAt: string
  expiresAt: string
  /** valid now: signed by the network's admin key, not expired and not revoked */
  valid: boolean
  /** when the admin revoked it, if it did */
  revokedAt?: string
  connected: boolean
  equivocated: boolean
}

export interface ApiHandlers {
  status(): Promise<ApiStatus>
  peers(): Promise<ApiPeer[]>
  members(): Promise<ApiMember[]>
  /** the revocations this node knows (checked against the admin key) */
  revocations(): Promise<Array<{ peer: string, revokedAt: string, revocation: string }>>
  /** take a revocation (texmesh-revoke-v1:...): check it, keep it, publish it in the replicated store */
  installRevocation(text: string): Promise<{ peer: string, revokedAt: string }>
  installCertificate(text: string): Promise<{ peer: string, network: string, issuedAt: number, expiresAt: number }>
  ocr(image: Buffer, options: { beam?: number, file: string }): Promise<OcrResult>
  submit(image: Buffer, options: { file: string, critical: boolean }): Promise<TaskView>
  task(id: string): Promise<TaskView | undefined>
  tasks(limit: number): Promise<TaskView[]>
  /** every author's result for an image hash in the replicated store */
  results(hash: string): Map<string, unknown>
  /** check a task's quorum certificate, as `texmesh verify ID` does; undefined when there is no such task */
  verify?(id: string): Promise<VerifyCheck | { ok: false, reason: 'no-certificate', detail: string } | undefined>
  /** the node's metrics in Prometheus text format */
  metrics?(): Promise<{ contentType: string, text: string }>
  /** formula search over everything the store holds (api-memory.ts) */
  memory?: MemoryHandlers
  /** documents (api-documents.ts): PDFs whose formulas become tasks */
  documents?: DocumentHandlers
  /** be told when tasks or their results may have changed (the event stream); returns the unsubscribe function */
  changes?(listener: () => void): () => void
  /** people's reviews: correct or confirm an answer, an image's reviews, statistics per model (api-reviews.ts) */
  reviews?: ReviewHandlers
  /** fault routes (partitions, pauses, dials), only on nodes started with the faults hook (simnet) */
  faults?: {
    partition(deny: string[]): Promise<void>
    pause(paused: boolean): Promise<void>
    dial(addrs: string[]): Promise<void>
  }
}

export interface ApiServerInit {
  port: number
  token: string
  handlers: ApiHandlers
  log: Log
}

export interface ApiServer {
  readonly port: number
  close(): Promise<void>
}

const MAX_BEAM = 32

/** The longest file name a task, or an image posted to /v1/ocr, carries. */
export const MAX_TASK_NAME = 1024

const OcrQuery = z.object({
  beam: z.coerce.number().int().min(1).max(MAX_BEAM).optional(),
  name: z.string().min(1).max(MAX_TASK_NAME).optional()
}).strict()

const SubmitQuery = z.object({
  name: z.string().min(1).max(MAX_TASK_NAME).optional(),
  critical: z.enum(['true', 'false', '1', '0']).optional()
}).strict()

const TasksQuery = z.object({ limit: z.coerce.number().int().min(1).max(10_000).optional() }).strict()

const CertificateBody = z.object({ certificate: z.string().min(1).max(8192) }).strict()
const RevocationBody = z.object({ revocation: z.string().min(1).max(2048) }).strict()

/** What was wrong with a query, one clause per problem. */
function issues (error: z.ZodError): string {
  return error.issues.map(i => i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message).join('; ')
}

export async function startApiServer (init: ApiServerInit): Promise<ApiServer> {
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES })
  const log = init.log
  const browser = browserSide({ port: init.port, token: init.token, handlers: init.handlers, log })

  guardRequests(app, browser, log)
  handleErrors(app, log)
  answerUnknownCalls(app)
  parseBodies(app)

  // Browser sessions and the event stream (api-browser.ts).
  browser.addRoutes(app)
  if (init.handlers.reviews != null) addReviewRoutes(app, init.handlers.reviews)
  if (init.handlers.memory != null) addMemoryRoutes(app, init.handlers.memory)
  if (init.handlers.documents != null) addDocumentRoutes(app, init.handlers.documents)

  app.post<{ Params: { id: string } }>('/v1/tasks/:id/verify', async (request, reply) => {
    if (init.handlers.verify == null) return await reply.code(404).send({ error: 'this node does not verify certificates' })
    const check = await init.handlers.verify(request.params.id)
    if (check == null) return await reply.code(404).send({ error: `no task ${request.params.id.slice(0, 80)} on this node` })
    return check
  })

  app.get('/v1/status', async () => await init.handlers.status())
  // Counts and times only (nothing of anybody's images), so as open as status: any local user.
  app.get('/metrics', async (_request, reply) => {
    const metrics = init.handlers.metrics
    if (metrics == null) return await reply.code(404).send({ error: 'this node keeps no metrics' })
    const { contentType, text } = await metrics()
    return await reply.type(contentType).send(text)
  })
  app.get('/v1/peers', async () => await init.handlers.peers())
  app.get('/v1/members', async () => await init.handlers.members())
  app.get('/v1/revocations', async () => await init.handlers.revocations())
  app.post('/v1/membership/revocations', async (request, reply) => {
    const body = RevocationBody.safeParse(request.body)
    if (!body.success) return await reply.code(400).send({ error: 'expected {"revocation": "texmesh-revoke-v1:..."}' })
    return await init.handlers.installRevocation(body.data.revocation)
  })
  app.post('/v1/membership/certificate', async (request, reply) => {
    const body = CertificateBody.safeParse(request.body)
    if (!body.success) return await reply.code(400).send({ error: 'expected {"certificate": "texmesh-cert-v1:..."}' })
    const cert = await init.handlers.installCertificate(body.data.certificate)
    const view: CertificateView = { peer: cert.peer, network: cert.network, issuedAt: new Date(cert.issuedAt).toISOString(), expiresAt: new Date(cert.expiresAt).toISOString() }
    return view
  })

  app.post('/v1/ocr', async (request, reply) => {
    const query = OcrQuery.safeParse(request.query)
    if (!query.success) return await reply.code(400).send({ error: `query: ${issues(query.error)} (beam: 1-${MAX_BEAM}; name: a file name of at most ${MAX_TASK_NAME} characters)` })
    if (!Buffer.isBuffer(request.body)) {
      return await reply.code(415).send({ error: 'POST the image bytes as the body, with Content-Type image/... or application/octet-stream' })
    }
    const file = query.data.name ?? 'upload'
    try {
      return await init.handlers.ocr(request.body, { file, ...(query.data.beam != null ? { beam: query.data.beam } : {}) })
    } catch (err) {
      if (err instanceof ImageError) return await reply.code(422).send({ file, error: err.message, reason: err.reason })
      throw err
    }
  })

  app.post('/v1/tasks', async (request, reply) => {
    const query = SubmitQuery.safeParse(request.query)
    if (!query.success) return await reply.code(400).send({ error: `query: ${issues(query.error)} (name: a file name of at most ${MAX_TASK_NAME} characters; critical: true or false)` })
    if (!Buffer.isBuffer(request.body)) {
      return await reply.code(415).send({ error: 'POST the image bytes as the body, with Content-Type image/... or application/octet-stream' })
    }
    const file = query.data.name ?? 'upload'
    const critical = query.data.critical === 'true' || query.data.critical === '1'
    try {
      return await init.handlers.submit(request.body, { file, critical })
    } catch (err) {
      if (err instanceof ImageError) return await reply.code(422).send({ file, error: err.message, reason: err.reason })
      throw err
    }
  })
  app.get('/v1/tasks', async (request, reply) => {
    const query = TasksQuery.safeParse(request.query)
    if (!query.success) return await reply.code(400).send({ error: 'query: limit must be 1-10000' })
    return await init.handlers.tasks(query.data.limit ?? 100)
  })
  app.get<{ Params: { id: string } }>('/v1/tasks/:id', async (request, reply) => {
    const task = await init.handlers.task(request.params.id)
    if (task == null) return await reply.code(404).send({ error: `no task ${request.params.id.slice(0, 80)} on this node` })
    return task
  })

  app.get<{ Params: { hash: string } }>('/v1/results/:hash', async (request, reply) => {
    if (!/^[0-9a-f]{64}$/.test(request.params.hash)) return await reply.code(400).send({ error: 'expected a SHA-256 hex digest' })
    return Object.fromEntries(init.handlers.results(request.params.hash))
  })

  const faults = init.handlers.faults
  if (faults != null) {
    const Peers = z.object({ deny: z.array(z.string().max(128)).max(10_000) }).strict()
    const Addrs = z.object({ addrs: z.array(z.string().max(1024)).max(10_000) }).strict()
    app.post('/v1/simnet/partition', async (request, reply) => {
      const body = Peers.safeParse(request.body)
      if (!body.success) return await reply.code(400).send({ error: 'expected {"deny": [PEER_ID...]}' })
      await faults.partition(body.data.deny)
      return { ok: true }
    })
    app.post('/v1/simnet/pause', async (request, reply) => {
      const body = z.object({ paused: z.boolean() }).strict().safeParse(request.body)
      if (!body.success) return await reply.code(400).send({ error: 'expected {"paused": true|false}' })
      await faults.pause(body.data.paused)
      return { ok: true }
    })
    app.post('/v1/simnet/dial', async (request, reply) => {
      const body = Addrs.safeParse(request.body)
      if (!body.success) return await reply.code(400).send({ error: 'expected {"addrs": [MULTIADDR...]}' })
      await faults.dial(body.data.addrs)
      return { ok: true }
    })
  }

  serveWeb(app)

  try {
    await app.listen({ host: '127.0.0.1', port: init.port })
  } catch (err: any) {
    await app.close().catch(() => {})
    if (err?.code === 'EADDRINUSE') {
      throw new PortInUseError(`API port ${init.port} on 127.0.0.1 is already in use (another texmesh node? choose one with --api-port)`)
    }
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address != null ? address.port : init.port
  browser.listening(port)
  log.info({ url: `http://127.0.0.1:${port}` }, 'local API listening')
  return {
    port,
    close: async () => {
      browser.close()
      // Open event streams would keep close() waiting.
      app.server.closeAllConnections?.()
      await app.close()
    }
  }
}
