import { z } from 'zod'
import { peerIdFromString } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { REVOCATION_SIGNING_CONTEXT, REVOCATION_TEXT_PREFIX } from './constants.js'

/**
 * A revocation: the network admin's signature over (network name, peer id, time). From that
 * time on the peer is not a member, whatever certificate it holds: nodes refuse it leases,
 * ballots and store writes, and a quorum certificate does not count its votes signed after it.
 */
export const Revocation = z.object({
  v: z.literal(1),
  network: z.string().min(1).max(64),
  peer: z.string().min(1).max(128),
  /** ms since the epoch */
  revokedAt: z.number().int().nonnegative(),
  /** Ed25519 signature by the admin key over `revocationSigningBytes`, base64url */
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/)
}).strict()
export type Revocation = z.infer<typeof Revocation>

export type RevocationCheck =
  | { ok: true, revocation: Revocation }
  | { ok: false, reason: 'malformed' | 'foreign-network' | 'bad-signature', detail: string }

export function revocationSigningBytes (r: Omit<Revocation, 'sig' | 'v'>): Uint8Array {
  return new TextEncoder().encode(REVOCATION_SIGNING_CONTEXT + JSON.stringify([r.network, r.peer, r.revokedAt]))
}

export async function issueRevocation (adminKey: PrivateKey, fields: { network: string, peer: string, revokedAt: number }): Promise<Revocation> {
  peerIdFromString(fields.peer) // throws on a malformed peer id
  const sig = await adminKey.sign(revocationSigningBytes(fields))
  return Revocation.parse({ v: 1, ...fields, sig: Buffer.from(sig).toString('base64url') })
}

/** Check shape, network and the admin's signature. */
export async function verifyRevocation (input: unknown, ctx: { network: string, adminPublicKey: Uint8Array }): Promise<RevocationCheck> {
  const parsed = Revocation.safeParse(input)
  if (!parsed.success) return { ok: false, reason: 'malformed', detail: parsed.error.issues.map(i => `${i.path.join('.') || 'revocation'}: ${i.message}`).join('; ') }
  const r = parsed.data
  if (r.network !== ctx.network) return { ok: false, reason: 'foreign-network', detail: `revocation is for network "${r.network}", not "${ctx.network}"` }
  let valid = false
  try {
    valid = await publicKeyFromRaw(ctx.adminPublicKey).verify(revocationSigningBytes(r), Buffer.from(r.sig, 'base64url'))
  } catch {
    valid = false
  }
  return valid ? { ok: true, revocation: r } : { ok: false, reason: 'bad-signature', detail: 'signature does not verify under this network\'s admin key' }
}

export function encodeRevocationText (r: Revocation): string {
  return REVOCATION_TEXT_PREFIX + Buffer.from(JSON.stringify(r), 'utf8').toString('base64url')
}

/** Decode the text form; returns the raw JSON value (verify it with `verifyRevocation`). */
export function decodeRevocationText (text: string): unknown {
  const trimmed = text.trim()
  if (!trimmed.startsWith(REVOCATION_TEXT_PREFIX) || trimmed.length > 2048) {
    throw new SyntaxError(`not a texmesh revocation (it should start with "${REVOCATION_TEXT_PREFIX}")`)
  }
  const body = trimmed.slice(REVOCATION_TEXT_PREFIX.length)
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new SyntaxError('revocation is damaged (characters outside base64url)')
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    throw new SyntaxError('revocation is damaged (not valid JSON inside)')
  }
}
