import { createHash, randomBytes } from 'node:crypto'

/**
 * Browser sessions of the local web interface. `texmesh open` asks the API (with the
 * data dir's token) for a sign-in link: a single-use code, valid for a minute. The
 * browser trades it at GET /signin for a session id, kept in an HttpOnly,
 * SameSite=Strict cookie; a request carrying a live session id counts as one with the
 * token. Codes and sessions live in memory only: a restarted node signs everyone out.
 * Only hashes of codes and ids are kept, and looked up by hash, so no comparison
 * leaks a secret's bytes through its timing.
 */

/** How long a sign-in code may wait to be used. */
export const SIGNIN_CODE_MS = 60_000
/** A session ends after this long unused. */
export const SESSION_IDLE_MS = 12 * 3600_000
/** and after this long in any case. */
export const SESSION_MAX_MS = 7 * 24 * 3600_000
/** the most codes waiting and sessions open at once (the oldest go first) */
const MAX_CODES = 64
const MAX_SESSIONS = 256

const digest = (secret: string): string => createHash('sha256').update(secret).digest('hex')
const secret = (): string => randomBytes(32).toString('base64url')

export class Sessions {
  private readonly codes = new Map<string, number>()
  private readonly sessions = new Map<string, { created: number, used: number }>()

  constructor (private readonly now: () => number = Date.now) {}

  /** A new single-use sign-in code and when it stops working. */
  createCode (): { code: string, expiresAt: number } {
    this.sweep()
    const code = secret()
    const expiresAt = this.now() + SIGNIN_CODE_MS
    this.codes.set(digest(code), expiresAt)
    while (this.codes.size > MAX_CODES) this.codes.delete(this.codes.keys().next().value!)
    return { code, expiresAt }
  }

  /** Trade a code for a new session id; undefined for a code that is unknown, used or expired. */
  redeem (code: string): string | undefined {
    const key = digest(code)
    const expiresAt = this.codes.get(key)
    this.codes.delete(key)
    if (expiresAt == null || expiresAt < this.now()) return undefined
    this.sweep()
    const id = secret()
    const now = this.now()
    this.sessions.set(digest(id), { created: now, used: now })
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!)
    return id
  }

  /** Whether a session id is live; using it keeps it alive. */
  valid (id: string | undefined): boolean {
    if (id == null || id === '') return false
    const session = this.sessions.get(digest(id))
    if (session == null) return false
    const now = this.now()
    if (now - session.used > SESSION_IDLE_MS || now - session.created > SESSION_MAX_MS) {
      this.sessions.delete(digest(id))
      return false
    }
    session.used = now
    return true
  }

  end (id: string | undefined): void {
    if (id != null) this.sessions.delete(digest(id))
  }

  get open (): number { return this.sessions.size }

  private sweep (): void {
    const now = this.now()
    for (const [k, expiresAt] of this.codes) if (expiresAt < now) this.codes.delete(k)
    for (const [k, s] of this.sessions) if (now - s.used > SESSION_IDLE_MS || now - s.created > SESSION_MAX_MS) this.sessions.delete(k)
  }
}

/** The session cookie's name: one per API port, as browsers share a host's cookies across its ports. */
export function sessionCookieName (port: number): string {
  return `texmesh_session_${port}`
}

/** One cookie's value from a Cookie header. */
export function cookieValue (header: string | undefined, name: string): string | undefined {
  if (header == null) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}
