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

export async function del<T> (path: string): Promise<T> {
  return await answer<T>(await fetch(path, { method: 'DELETE', credentials: 'same-origin', headers: { 'x-texmesh': '1', accept: 'application/json' } }))
}

// The shapes the API answers in are the server's own types (type-only imports: nothing of the
// server is bundled), so the page cannot drift from what the node sends.
import type { Box, Alternative } from '../pipeline/ocr.js'
import type { ResultView, TaskView } from '../node/daemon/task-view.js'
import type { QuorumState, QuorumCertificate } from '../protocols/votes/index.js'
import type { ApiMember, ApiPeer, ApiStatus, MembershipView } from '../node/daemon/api.js'
import type { WrittenReview } from '../node/daemon/reviews.js'
import type { StatsView } from '../node/daemon/api-reviews.js'
import type { FormulaHit } from '../node/daemon/memory.js'
import type { DocumentView } from '../node/daemon/documents.js'
export type { DocumentView }
export type { WrittenReview, FormulaHit }
export interface SearchAnswer { formulas: number, hits: FormulaHit[] }
export type ModelStats = StatsView
export type { Box, Alternative, QuorumState }
export type OcrResult = Omit<ResultView, 'file' | 'by'> & { by?: string, regions: Array<ResultView['regions'][number] & { alternatives?: Alternative[] }> }
export type Certificate = QuorumCertificate
export type Vote = QuorumCertificate['votes'][number]
export type Region = OcrResult['regions'][number]
export type Task = TaskView
export type VerifyCheck = { ok: true, voters: string[], checked?: string[] } | { ok: false, reason: string, detail: string }
export type Membership = MembershipView
export type Status = ApiStatus
export type Peer = ApiPeer
export type Member = ApiMember
export interface Revocation { peer: string, revokedAt: string }
