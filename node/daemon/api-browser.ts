import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Log } from '../log.js'
import type { ApiHandlers } from './api.js'
import { MUTATING, SESSION_CHANGE_HEADER, tokenMatches, type RequestAuth } from './http.js'
import { cookieValue, sessionCookieName, Sessions } from './sessions.js'

/**
 * The local API's browser side: sessions (POST /v1/session-link for `texmesh open`, GET /signin
 * trading a code for a cookie, GET /v1/session, POST /v1/signout), whether a request is
 * authenticated by the token or a session (http.ts's request guard asks), and the server-sent
 * event stream (GET /v1/events), one look at the tasks serving every listener, pushed by changes.
 */

/**
 * The event stream looks for changed tasks when told something changed (the task queue or the
 * replicated store), at most this often; a burst of changes gives one look.
 */
const EVENTS_COALESCE_MS = 250
/** and at least this often while someone listens (a quorum's progress, a lease running out). */
const EVENTS_POLL_MS = 1000
/** and sends the node's status. */
const EVENTS_STATUS_MS = 2000
/** Event streams open at once (browser tabs): each costs a listener and a keep-alive timer. */
const MAX_EVENT_STREAMS = 16
/** Bytes an event stream may hold unread before it is dropped (the browser reconnects and starts afresh). */
const MAX_EVENT_BUFFER = 1024 * 1024

export interface BrowserSide extends RequestAuth {
  /** adds the session routes and the event stream */
  addRoutes(app: FastifyInstance): void
  /** the port the API listens on, once it does (the sign-in link and the cookie's name carry it) */
  listening(port: number): void
  /** stops the poller and forgets the listeners */
  close(): void
}

export interface BrowserSideInit {
  port: number
  token: string
  handlers: Pick<ApiHandlers, 'tasks' | 'status' | 'changes'>
  log: Log
}

export function browserSide (init: BrowserSideInit): BrowserSide {
  const log = init.log
  const sessions = new Sessions()
  // Set once listening (the port may be 0 until then).
  let port = init.port
  let cookieName = sessionCookieName(init.port)
  const sessionOf = (request: FastifyRequest): string | undefined => cookieValue(request.headers.cookie, cookieName)
  const hasSession = (request: FastifyRequest): boolean => sessions.valid(sessionOf(request))
  /** authenticated: the token, or a live browser session (with the change header on changes) */
  const authenticated = (request: FastifyRequest): boolean => {
    if (tokenMatches(request, init.token)) return true
    if (!sessions.valid(sessionOf(request))) return false
    return !MUTATING.has(request.method) || request.headers[SESSION_CHANGE_HEADER] === '1'
  }

  // Live changes for the web interface: server-sent events. `task` carries a task that changed
  // (or is new), `status` the node's status every few seconds. One look at the tasks serves every
  // listener: when the task queue or the replicated store says something changed (a burst gives
  // one look), and every second besides.
  const listeners = new Set<(event: string, data: unknown) => void>()
  let lastTasks = new Map<string, string>()
  let pollTimer: NodeJS.Timeout | undefined
  /** a poll is under way or scheduled (set before its first wait, so two streams never start two) */
  let polling = false
  let lastStatus = 0
  /** when the next look is due (ms), and whether a change came while a look was under way */
  let nextAt = 0
  let dirty = false
  const schedule = (ms: number): void => {
    if (pollTimer != null) clearTimeout(pollTimer)
    nextAt = Date.now() + ms
    pollTimer = setTimeout(() => { void poll() }, ms)
  }
  /** told of a change: look again soon, unless a look is due sooner */
  const changed = (): void => {
    if (!polling || listeners.size === 0) return
    if (pollTimer == null) dirty = true
    else if (nextAt - Date.now() > EVENTS_COALESCE_MS) schedule(EVENTS_COALESCE_MS)
  }
  const unsubscribe = init.handlers.changes?.(changed)
  const poll = async (): Promise<void> => {
    pollTimer = undefined
    dirty = false
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
    if (listeners.size > 0) schedule(dirty ? EVENTS_COALESCE_MS : EVENTS_POLL_MS)
    else {
      pollTimer = undefined
      polling = false
    }
  }

  const addRoutes = (app: FastifyInstance): void => {
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

    app.get('/v1/events', async (request, reply) => {
      if (listeners.size >= MAX_EVENT_STREAMS) return await reply.code(503).send({ error: `${MAX_EVENT_STREAMS} event streams are open already; close a browser tab` })
      reply.hijack()
      const res = reply.raw
      const timer: { keepAlive?: NodeJS.Timeout } = {}
      // A stream whose reader stops reading is dropped rather than buffered without end.
      const send = (text: string): void => { if (res.writableLength > MAX_EVENT_BUFFER) res.destroy(); else res.write(text) }
      const listener = (event: string, data: unknown): void => { send(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`) }
      // Cleaned up however the stream ends, even while the first tasks are being read.
      res.on('close', () => { listeners.delete(listener); clearInterval(timer.keepAlive) })
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'keep-alive' })
      res.write('retry: 2000\n\n')
      try {
        // A newcomer gets every current task first.
        for (const t of await init.handlers.tasks(200)) send(`event: task\ndata: ${JSON.stringify(t)}\n\n`)
      } catch (err) {
        log.debug({ err }, 'event stream: reading the tasks failed')
      }
      if (res.destroyed) return
      listeners.add(listener)
      timer.keepAlive = setInterval(() => { send(': keep-alive\n\n') }, 15_000)
      lastStatus = 0
      if (!polling) {
        polling = true
        void poll()
      }
    })
  }

  return {
    authenticated,
    hasSession,
    addRoutes,
    listening: (listeningOn: number): void => {
      port = listeningOn
      cookieName = sessionCookieName(listeningOn)
    },
    close: (): void => {
      unsubscribe?.()
      listeners.clear()
      if (pollTimer != null) clearTimeout(pollTimer)
    }
  }
}
