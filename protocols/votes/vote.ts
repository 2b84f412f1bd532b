/**
 * Signed votes and quorum certificates for critical images.
 *
 * A vote is a voter's Ed25519 signature (@noble/ed25519, the node key) over
 * canonical bytes of {task, image hash, model version, normalised LaTeX,
 * confidence, voter, time}. 2f+1 votes from distinct members for the same
 * (task, image, model, LaTeX) form a quorum certificate. A certificate carries
 * its voters' membership certificates, so anyone holding the network's admin
 * public key can check it offline.
 *
 * @example
 * ```ts
 * const vote = await signVote(nodeKey, { task, image, model, latex, confidence, voter, time: Date.now() })
 * const check = await verifyQuorumCertificate(cert, { network: { name, adminPublicKey } })
 * ```
 */
import * as ed from '@noble/ed25519'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { z } from 'zod'
import { decodeCertificateText, verifyCertificate } from '../membership/index.js'
import { SHA256_HEX } from '../../util/sha256.js'
import { DEFAULT_F, MAX_F, VOTE_SIGNING_CONTEXT } from './constants.js'

const hash = z.string().regex(SHA256_HEX)

export const Vote = z.object({
  task: z.string().min(1).max(64),
  image: hash,
  model: z.string().min(1).max(128),
  latex: z.string().max(4096),
  confidence: z.number().min(0).max(1),
  voter: z.string().min(1).max(128),
  /** ms since the epoch */
  time: z.number().int().nonnegative()
}).strict()
export type Vote = z.infer<typeof Vote>

export const SignedVote = Vote.extend({ sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/) }).strict()
export type SignedVote = z.infer<typeof SignedVote>

/** The bytes a voter signs: fixed field order, no whitespace, after the context line. */
export function voteSigningBytes (v: Vote): Uint8Array {
  return new TextEncoder().encode(VOTE_SIGNING_CONTEXT + JSON.stringify([v.task, v.image, v.model, v.latex, v.confidence, v.voter, v.time]))
}

export async function signVote (key: Ed25519PrivateKey, vote: Vote): Promise<SignedVote> {
  const parsed = Vote.parse(vote)
  // libp2p keeps an Ed25519 private key as seed || public key; noble signs with the 32-byte seed.
  const sig = await ed.signAsync(voteSigningBytes(parsed), key.raw.subarray(0, 32))
  return { ...parsed, sig: Buffer.from(sig).toString('base64url') }
}

export type VoteCheck = { ok: true, vote: SignedVote } | { ok: false, reason: 'malformed' | 'bad-signature', detail: string }

/** Shape, then the signature against the public key inside the voter's peer id. */
export async function verifyVote (input: unknown): Promise<VoteCheck> {
  const parsed = SignedVote.safeParse(input)
  if (!parsed.success) return { ok: false, reason: 'malformed', detail: parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ').slice(0, 300) }
  const v = parsed.data
  let publicKey: { verify: (data: Uint8Array, sig: Uint8Array) => boolean | Promise<boolean> }
  try {
    const id = peerIdFromString(v.voter)
    if (id.type !== 'Ed25519' || id.publicKey == null) throw new Error('not an Ed25519 peer id')
    publicKey = id.publicKey
  } catch (err) {
    return { ok: false, reason: 'malformed', detail: `voter ${v.voter.slice(0, 80)}: ${(err as Error).message}` }
  }
  // Verified with the peer id's key (Node's native Ed25519): a vote is checked by every node that sees it.
  const ok = await Promise.resolve(publicKey.verify(voteSigningBytes(v), Buffer.from(v.sig, 'base64url'))).catch(() => false)
  return ok ? { ok: true, vote: v } : { ok: false, reason: 'bad-signature', detail: `the signature of ${v.voter}'s vote on ${v.task} does not verify` }
}

/**
 * Two votes of one voter on one task, image and model for different LaTeX:
 * proof that the voter equivocated. Only these can both count toward
 * certificates (a certificate binds its image and model). Votes on another
 * image under the same task id are not: any member can send a ballot that
 * reuses a task id, and honest voters answer what they are asked. Nor are
 * votes from another model (an honest voter upgraded and restarted), nor
 * different confidence or time (a restart and a recalibration).
 */
export function isEquivocation (a: Vote, b: Vote): boolean {
  return a.voter === b.voter && a.task === b.task && a.image === b.image && a.model === b.model && a.latex !== b.latex
}

export const QuorumCertificate = z.object({
  v: z.literal(1),
  task: z.string().min(1).max(64),
  image: hash,
  model: z.string().min(1).max(128),
  latex: z.string().max(4096),
  f: z.number().int().min(0).max(MAX_F),
  /** the network the voters belong to; null in an open network (no roster: any node counts) */
  network: z.string().max(64).nullable(),
  votes: z.array(SignedVote).min(1).max(3 * MAX_F + 1 + 16),
  /** the voters' membership certificates (texmesh-cert-v1:...), for offline checks */
  members: z.array(z.string().max(8192)).max(3 * MAX_F + 1 + 16)
}).strict()
export type QuorumCertificate = z.infer<typeof QuorumCertificate>

export type CertificateFailure = 'malformed' | 'weak-quorum' | 'too-few-votes' | 'bad-signature' | 'duplicate-voter' | 'mismatch' | 'not-a-member' | 'revoked' | 'foreign-network'

export type QuorumCheck =
  | { ok: true, certificate: QuorumCertificate, voters: string[] }
  | { ok: false, reason: CertificateFailure, detail: string }

export interface QuorumContext {
  /** the verifier's network; undefined to check a certificate of an open network */
  network?: { name: string, adminPublicKey: Uint8Array }
  /**
   * The smallest f the verifier accepts: a certificate states its own f, and
   * one that claims f = 0 would need a single vote. @default DEFAULT_F
   */
  minF?: number
  /** When the network's admin revoked a peer, if it did: its votes from then on do not count. */
  revokedAt?: (peer: string) => number | undefined
}

/**
 * Check a quorum certificate offline: every vote verifies and is for the
 * certificate's task, image, model and LaTeX; the voters are distinct; each
 * voter held a valid membership certificate of the network at the time of
 * its vote; and there are at least 2f+1 of them.
 */
export async function verifyQuorumCertificate (input: unknown, ctx: QuorumContext = {}): Promise<QuorumCheck> {
  const parsed = QuorumCertificate.safeParse(input)
  if (!parsed.success) return { ok: false, reason: 'malformed', detail: parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; ').slice(0, 300) }
  const c = parsed.data
  const minF = ctx.minF ?? DEFAULT_F
  if (c.f < minF) return { ok: false, reason: 'weak-quorum', detail: `the certificate claims f = ${c.f}; at least f = ${minF} (${2 * minF + 1} votes) is required` }
  if ((ctx.network?.name ?? null) !== c.network) {
    return { ok: false, reason: 'foreign-network', detail: `the certificate is for ${c.network == null ? 'an open network' : `network "${c.network}"`}, not ${ctx.network == null ? 'an open network' : `"${ctx.network.name}"`}` }
  }
  const voters = new Set<string>()
  for (const v of c.votes) {
    if (voters.has(v.voter)) return { ok: false, reason: 'duplicate-voter', detail: `${v.voter} votes twice` }
    voters.add(v.voter)
    if (v.task !== c.task || v.image !== c.image || v.model !== c.model || v.latex !== c.latex) {
      return { ok: false, reason: 'mismatch', detail: `${v.voter}'s vote is for something else than the certificate states` }
    }
    const check = await verifyVote(v)
    if (!check.ok) return { ok: false, reason: 'bad-signature', detail: check.detail }
  }
  if (ctx.network != null) {
    const certs = new Map<string, unknown>()
    for (const text of c.members) {
      try {
        const raw = decodeCertificateText(text) as { peer?: unknown }
        if (typeof raw?.peer === 'string') certs.set(raw.peer, raw)
      } catch {}
    }
    for (const v of c.votes) {
      const check = await verifyCertificate(certs.get(v.voter), { network: ctx.network.name, adminPublicKey: ctx.network.adminPublicKey, peer: v.voter, now: v.time })
      if (!check.ok) return { ok: false, reason: 'not-a-member', detail: `${v.voter} was not a member when it voted (${check.reason}: ${check.detail})` }
      const revokedAt = ctx.revokedAt?.(v.voter)
      if (revokedAt != null && v.time >= revokedAt) {
        return { ok: false, reason: 'revoked', detail: `${v.voter} voted at ${new Date(v.time).toISOString()}, after the admin revoked it (${new Date(revokedAt).toISOString()})` }
      }
    }
  }
  const need = 2 * c.f + 1
  if (voters.size < need) return { ok: false, reason: 'too-few-votes', detail: `${voters.size} matching votes, ${need} needed for f = ${c.f}` }
  return { ok: true, certificate: c, voters: [...voters] }
}
