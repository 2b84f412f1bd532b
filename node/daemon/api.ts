import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { PortInUseError, TexmeshError } from '../errors.js'
import type { Log } from '../log.js'
import { ImageError } from '../../pipeline/preprocess.js'
import type { OcrResult } from '../../pipeline/ocr.js'
import type { TaskView, TasksStats } from './work.js'
import type { PeerMembership } from '../../protocols/membership/index.js'
import type { QuorumTimings } from '../../protocols/votes/index.js'
import { checkValue } from '../../crdt/values.js'
import { MAX_IMAGE_BYTES } from '../../protocols/blob/index.js'
import { cookieValue, sessionCookieName, Sessions } from './sessions.js'
import { serveWeb } from './web.js'
import type { VerifyCheck } from '../cli/verify.js'

/**
 * The local HTTP API: JSON on 127.0.0.1 only, and the web interface beside it.
 * Other origins are kept out (a request whose Origin header is not the API's own,
 * or whose Sec-Fetch-Site is cross-site or same-site, is refused, and the Host
 * header must name loopback, which defeats DNS rebinding), and every call that
 * changes something needs the bearer token from the data dir, or a browser session
 * (see sessions.ts) together with the header `X-Texmesh: 1`.
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

/** the API carries small JSON documents only (for now) */
const BODY_LIMIT_BYTES = 64 * 1024
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/**
 * Reads that show what users submitted (file names, answers) need the token too: on a shared lab
 * machine any local user reaches 127.0.0.1, but only the data dir's owner can read its api-token.
 * Status and peers, which say nothing of anybody's images, stay open.
 */
const PRIVATE_READS = /^\/v1\/(tasks|results|events)(\/|\?|$)/
/** The header a browser session must send with every change (a form or link from elsewhere cannot set it). */
export const SESSION_CHANGE_HEADER = 'x-texmesh'
/** How often the event stream looks for changed tasks while someone listens. */
const EVENTS_POLL_MS = 250
/** and sends the node's status. */
const EVENTS_STATUS_MS = 2000

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

function tokenMatches (request: FastifyRequest, token: string): boolean {
  const header = request.headers.authorization
  const match = header?.match(/^bearer\s+(\S+)\s*$/i)
  if (match?.[1] == null) return false
  const given = Buffer.from(match[1])
  const expected = Buffer.from(token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** An Origin header is allowed only when it is the API's own origin, as the Host header names it. */
function originIsOwn (origin: string | undefined, host: string | undefined): boolean {
  return origin == null || (host != null && hostIsLoopback(host) && origin.toLowerCase() === `http://${host.toLowerCase()}`)
}

function hostIsLoopback (host: string | undefined): boolean {
  if (host == null) return false
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]
  return name != null && LOOPBACK_HOSTS.has(name.toLowerCase())
}

export async function startApiServer (init: ApiServerInit): Promise<ApiServer> {
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES })
  const log = init.log
  const sessions = new Sessions()
  // Set once listening (the port may be 0 until then).
  let cookieName = sessionCookieName(init.port)
  const sessionOf = (request: FastifyRequest): string | undefined => cookieValue(request.headers.cookie, cookieName)
  /** authenticated: the token, or a live browser session (with the change header on changes) */
  const authenticated = (request: FastifyRequest): boolean => {
    if (tokenMatches(request, init.token)) return true
    if (!sessions.valid(sessionOf(request))) return false
    return !MUTATING.has(request.method) || request.headers[SESSION_CHANGE_HEADER] === '1'
  }

  app.addHook('onRequest', async (request, reply) => {
    const site = request.headers['sec-fetch-site']
    const origin = request.headers.origin
    if (!originIsOwn(origin, request.headers.host) || (site != null && site !== 'none' && site !== 'same-origin')) {
      log.warn({ method: request.method, url: request.url, origin }, 'refused cross-origin API request')
      return await reply.code(403).send({ error: 'cross-origin requests are refused' })
    }
    if (!hostIsLoopback(request.headers.host)) {
      return await reply.code(403).send({ error: 'the API answers only to loopback host names' })
    }
    // Nothing the API answers may be framed, sniffed or cached by a browser.
    void reply.header('x-content-type-options', 'nosniff').header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer')
    if (request.url.startsWith('/v1/')) void reply.header('cache-control', 'no-store')
    if ((MUTATING.has(request.method) || PRIVATE_READS.test(request.url)) && !authenticated(request)) {
      const session = sessions.valid(sessionOf(request))
      return await reply.code(401).send({ error: session ? `a browser session must send the header ${SESSION_CHANGE_HEADER}: 1 with changes` : 'missing or wrong API token (see api-token in the data dir), and no browser session (texmesh open signs a browser in)' })
    }
  })

  app.setErrorHandler(async (err, request, reply) => {
    if (err instanceof TexmeshError) return await reply.code(400).send({ error: err.message, name: err.name })
    const status = typeof (err as any).statusCode === 'number' ? (err as any).statusCode as number : 500
    if (status >= 500) log.error({ err }, 'API handler failed')
    if ((err as any).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      // What this call takes: a JSON body, or an image.
      const json = JSON_CALLS.has(request.url.split('?')[0]!)
      return await reply.code(415).send({ error: json ? 'POST a JSON body, with Content-Type application/json' : 'POST the image bytes as the body, with Content-Type image/... or application/octet-stream' })
    }

    if ((err as any).code === 'FST_ERR_MAX_PARAM_LENGTH' || (err as any).code === 'FST_ERR_BAD_URL') {
      return await reply.code(400).send({ error: 'a path parameter is too long or malformed' })
    }
    return await reply.code(status).send({ error: (err as Error).message })
  })
  // Unknown calls answer in the API's own shape, without echoing a long URL back.
  // A known path called with another method gets 405 and the methods it has (Allow), not 404.
  const routes: { pattern: RegExp, methods: string[] }[] = []
  app.addHook('onRoute', (route) => {
    const pattern = new RegExp(`^${route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+')}$`)
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const known = routes.find(r => r.pattern.source === pattern.source)
    if (known != null) known.methods.push(...methods)
    else routes.push({ pattern, methods: [...methods] })
  })
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0]!
    const allowed = routes.find(r => r.pattern.test(path))?.methods
    if (allowed != null) {
      const allow = [...new Set(allowed)].sort().join(', ')
      return await reply.code(405).header('allow', allow).send({ error: `${request.method} is not a method of ${path.slice(0, 200)} (it takes ${allow})` })
    }
    return await reply.code(404).send({ error: `no such call: ${request.method} ${path.slice(0, 200)} (the README's "local API" lists them)` })
  })

  // JSON bodies: parsed, then refused with the reason when they are deep, huge or carry a
  // __proto__ or constructor key (crdt/values.ts's bounds, the same the store applies).
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) => {
    let json: unknown
    try {
      json = JSON.parse(body as string)
    } catch {
      done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400 }), undefined)
      return
    }
    const refused = checkValue(json)
    if (refused != null) {
      done(Object.assign(new Error(`the JSON body is refused: ${refused.detail}`), { statusCode: 400 }), undefined)
      return
    }
    done(null, json)
  })
  // Images arrive as the raw request body (any image/* type or application/octet-stream).
  // The calls that take a JSON body instead:
  const JSON_CALLS = new Set(['/v1/membership/certificate', '/v1/membership/revocations'])
  app.addContentTypeParser(/^(image\/|application\/octet-stream)/, { parseAs: 'buffer', bodyLimit: MAX_IMAGE_BYTES }, (_request, body, done) => {
    done(null, body)
  })

  // Browser sessions: `texmesh open` asks for a link with the token; the browser trades its code for a cookie.
  app.post('/v1/session-link', async (request, reply) => {
    if (!tokenMatches(request, init.token)) return await reply.code(401).send({ error: 'a sign-in link needs the API token itself (texmesh open)' })
    const { code, expiresAt } = sessions.createCode()
    return { url: `http://127.0.0.1:${port}/signin?code=${code}`, expiresAt: new Date(expiresAt).toISOString() }
  })
  app.get('/signin', async (request, reply) => {
    const code = (request.query as Record<string, unknown>).code
    const id = typeof code === 'string' && code.length <= 128 ? sessions.redeem(code) : undefined
    void reply.header('cache-control', 'no-store')
    if (id == null) {
      return await reply.code(403).type('text/plain; charset=utf-8').send('This sign-in link is used or expired (links work once, for a minute). Run `texmesh open` again.\n')
    }
    return await reply.code(303)
      .header('set-cookie', `${cookieName}=${id}; HttpOnly; SameSite=Strict; Path=/`)
      .header('location', '/').send()
  })
  app.get('/v1/session', async (request) => ({ signedIn: sessions.valid(sessionOf(request)) || tokenMatches(request, init.token) }))
  app.post('/v1/signout', async (request, reply) => {
    sessions.end(sessionOf(request))
    return await reply.header('set-cookie', `${cookieName}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`).send({ signedOut: true })
  })

  // Live changes for the web interface: server-sent events. `task` carries a task that changed
  // (or is new), `status` the node's status every few seconds. One poll serves every listener.
  const listeners = new Set<(event: string, data: unknown) => void>()
  let lastTasks = new Map<string, string>()
  let pollTimer: NodeJS.Timeout | undefined
  let lastStatus = 0
  const poll = async (): Promise<void> => {
    try {
      const tasks = await init.handlers.tasks(200)
      const seen = new Map<string, string>()
      for (const t of tasks) {
        const json = JSON.stringify(t)
        seen.set(t.id, json)
        if (lastTasks.get(t.id) !== json) for (const l of listeners) l('task', t)
      }
      lastTasks = seen
      if (Date.now() - lastStatus >= EVENTS_STATUS_MS) {
        lastStatus = Date.now()
        const status = await init.handlers.status()
        for (const l of listeners) l('status', status)
      }
    } catch (err) {
      log.debug({ err }, 'event stream poll failed')
    }
    if (listeners.size > 0) pollTimer = setTimeout(() => { void poll() }, EVENTS_POLL_MS)
    else pollTimer = undefined
  }
  app.get('/v1/events', async (request, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'keep-alive' })
    res.write('retry: 2000\n\n')
    // A newcomer gets every current task first.
    for (const t of await init.handlers.tasks(200)) res.write(`event: task\ndata: ${JSON.stringify(t)}\n\n`)
    const listener = (event: string, data: unknown): void => { res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`) }
    listeners.add(listener)
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000)
    request.raw.on('close', () => { listeners.delete(listener); clearInterval(keepAlive) })
    lastStatus = 0
    if (pollTimer == null) void poll()
  })

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

  let port = init.port
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
  port = typeof address === 'object' && address != null ? address.port : init.port
  cookieName = sessionCookieName(port)
  log.info({ url: `http://127.0.0.1:${port}` }, 'local API listening')
  return {
    port,
    close: async () => {
      listeners.clear()
      if (pollTimer != null) clearTimeout(pollTimer)
      // Open event streams would keep close() waiting.
      app.server.closeAllConnections?.()
      await app.close()
    }
  }
}
