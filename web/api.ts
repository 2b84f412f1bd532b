/** The node's HTTP API, as the browser calls it: same origin, the session cookie, and X-Texmesh on changes. */

export class ApiError extends Error {
  constructor (message: string, readonly status: number) { super(message) }
}

async function answer<T> (response: Response): Promise<T> {
  const text = await response.text()
  let json: any
  try { json = JSON.parse(text) } catch { throw new ApiError(`HTTP ${response.status}`, response.status) }
  if (!response.ok) throw new ApiError(String(json?.error ?? `HTTP ${response.status}`), response.status)
  return json as T
}

export async function get<T> (path: string): Promise<T> {
  return await answer<T>(await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } }))
}

export async function post<T> (path: string, body?: Blob | object): Promise<T> {
  const isBlob = body instanceof Blob
  const headers: Record<string, string> = { 'x-texmesh': '1', accept: 'application/json' }
  if (body != null) headers['content-type'] = isBlob ? (body.type.startsWith('image/') ? body.type : 'application/octet-stream') : 'application/json'
  return await answer<T>(await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers,
    ...(body != null ? { body: isBlob ? body : JSON.stringify(body) } : {})
  }))
}

export interface Box { x: number, y: number, width: number, height: number }
export interface Alternative { latex: string, score: number }
export interface Region { bbox: Box, latex: string, confidence: number, alternatives?: Alternative[] }
export interface OcrResult {
  latex: string
  confidence: number
  alternatives: Alternative[]
  regions: Region[]
  model: string
  ms: number | null
  rotated?: 90 | 270
  unreadable?: { reason: string, detail?: string }
  by?: string
  certificate?: Certificate
}
export interface Vote { voter: string, time: number, confidence: number }
export interface Certificate { task: string, image: string, model: string, latex: string, f: number, network?: string | null, votes: Vote[] }
export type QuorumState =
  | { state: 'waiting', reason: string }
  | { state: 'voting', round: number, voters: string[], votes: number, needed: number, suspected: string[] }
  | { state: 'certified', voters: string[] }
  | { state: 'no-consensus', votes: unknown[] }
export interface Task {
  id: string
  hash: string
  file: string
  state: string
  critical: boolean
  submittedAt: string
  grants: number
  regrants: number
  workers: string[]
  failures: Array<{ peer: string, reason: string }>
  doneAt?: string
  cached: boolean
  result?: OcrResult
  quorum?: QuorumState
  votes?: unknown[]
}
export type VerifyCheck = { ok: true, voters: string[], checked?: string[] } | { ok: false, reason: string, detail: string }
export interface Membership { state: string, expiresAt?: string, reason?: string, detail?: string }
export interface Status {
  peerId: string
  addresses: string[]
  network: { name: string | null, private: boolean, admin?: string, membership?: Membership }
  peers: number
  version: string
  uptimeS: number
  dataDir: string
  model?: string
  tasks?: { queued: number, leased: number, done: number, failedTasks: number, running: number, capacity: number, processed: number, stolen: number }
}
export interface Peer { id: string, addresses: string[], latencyMs: number | null, direction: string, membership: Membership, equivocated?: boolean }
export interface Member { peer: string, issuedAt: string, expiresAt: string, valid: boolean, revokedAt?: string, connected: boolean, equivocated: boolean }
export interface Revocation { peer: string, revokedAt: string }
