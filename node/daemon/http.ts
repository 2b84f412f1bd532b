import type { FastifyInstance, FastifyRequest } from 'fastify'
import { timingSafeEqual } from 'node:crypto'
import { TexmeshError } from '../errors.js'
import type { Log } from '../log.js'
import { checkValue } from '../../crdt/values.js'
import { MAX_IMAGE_BYTES } from '../../protocols/blob/index.js'

/**
 * The local API's guards and plumbing, the same for every route: the request guard (only the
 * API's own origin, only loopback host names, the token or a browser session for changes and
 * private reads) with the headers that keep browsers from framing, sniffing or caching answers;
 * the error handler; the 404/405 answer with the table of routes it needs; and the body parsers
 * (JSON within crdt/values.ts's bounds, images as raw bytes). api.ts wires them, in this order,
 * before its routes.
 */

/** the API carries small JSON documents only (for now) */
export const BODY_LIMIT_BYTES = 64 * 1024
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])
export const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/**
 * Reads that show what users submitted (file names, answers) need the token too: on a shared lab
 * machine any local user reaches 127.0.0.1, but only the data dir's owner can read its api-token.
 * Status, peers and review statistics, which say nothing of anybody's images, stay open.
 */
const PRIVATE_READS = /^\/v1\/(tasks|results|events|reviews|images|search|documents)(\/|\?|$)/
/** The header a browser session must send with every change (a form or link from elsewhere cannot set it). */
export const SESSION_CHANGE_HEADER = 'x-texmesh'

// Images arrive as the raw request body (any image/* type or application/octet-stream).
// The calls that take a JSON body instead:
const JSON_CALLS = new Set(['/v1/membership/certificate', '/v1/membership/revocations', '/v1/reviews'])

export function tokenMatches (request: FastifyRequest, token: string): boolean {
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

/** Who may call what, as the request guard asks it (the answers come from api-browser.ts). */
export interface RequestAuth {
  /** the token, or a live browser session (with the change header on changes) */
  authenticated(request: FastifyRequest): boolean
  /** the request carries a live browser session */
  hasSession(request: FastifyRequest): boolean
}

function decodePath (url: string): string {
  try {
    return decodeURIComponent(url)
  } catch {
    return url
  }
}

/** Refuses other origins, other host names and unauthenticated changes or private reads; sets the security headers. */
export function guardRequests (app: FastifyInstance, auth: RequestAuth, log: Log): void {
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
    // The route matched, not the raw URL: the router decodes %-escapes (/v1/%74asks is /v1/tasks).
    const route = request.routeOptions.url ?? decodePath(request.url)
    if ((MUTATING.has(request.method) || PRIVATE_READS.test(route)) && !auth.authenticated(request)) {
      const session = auth.hasSession(request)
      return await reply.code(401).send({ error: session ? `a browser session must send the header ${SESSION_CHANGE_HEADER}: 1 with changes` : 'missing or wrong API token (see api-token in the data dir), and no browser session (texmesh open signs a browser in)' })
    }
  })
}

/** Errors answer in the API's own shape: the user's errors as 400, the body's type as 415, the rest as they come. */
export function handleErrors (app: FastifyInstance, log: Log): void {
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
}

/** Unknown calls answer 404, known paths called with another method 405. Call before adding routes: it records them. */
export function answerUnknownCalls (app: FastifyInstance): void {
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
}

/** The bodies the API takes: bounded JSON documents, and images as raw bytes. */
export function parseBodies (app: FastifyInstance): void {
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
  // Images (JSON_CALLS above lists the calls that take JSON instead).
  app.addContentTypeParser(/^(image\/|application\/octet-stream|application\/pdf)/, { parseAs: 'buffer', bodyLimit: MAX_IMAGE_BYTES }, (_request, body, done) => {
    done(null, body)
  })
}
