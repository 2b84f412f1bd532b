import { z } from 'zod'
import { peerIdFromString } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { CERTIFICATE_SIGNING_CONTEXT, CERTIFICATE_TEXT_PREFIX, CLOCK_SKEW_MS } from './constants.js'

/**
 * A membership certificate: the network admin's signature over
 * (network name, peer id, issue time, expiry). It decides who counts in a
 * Byzantine quorum, so verification is strict and says why it refuses.
 */
export const MembershipCertificate = z.object({
  v: z.literal(1),
  network: z.string().min(1).max(64),
  peer: z.string().min(1).max(128),
  /** ms since the epoch */
  issuedAt: z.number().int().nonnegative(),
  /** ms since the epoch */
  expiresAt: z.number().int().nonnegative(),
  /** Ed25519 signature by the admin key over `certificateSigningBytes`, base64url */
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/)
}).strict()
export type MembershipCertificate = z.infer<typeof MembershipCertificate>

export type CertificateRefusal =
  | 'malformed'
  | 'foreign-network'
  | 'wrong-peer'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'

export type CertificateCheck =
  | { ok: true, certificate: MembershipCertificate }
  | { ok: false, reason: CertificateRefusal, detail: string }

export interface CertificateContext {
  /** the network the verifier belongs to */
  network: string
  /** the admin's raw Ed25519 public key */
  adminPublicKey: Uint8Array
  /** the peer the certificate must name (the remote peer of the connection it came on) */
  peer?: string
  /** ms since the epoch; defaults to now */
  now?: number
}

export function certificateSigningBytes (cert: Omit<MembershipCertificate, 'sig' | 'v'>): Uint8Array {
  return new TextEncoder().encode(CERTIFICATE_SIGNING_CONTEXT + JSON.stringify([cert.network, cert.peer, cert.issuedAt, cert.expiresAt]))
}

export async function issueCertificate (adminKey: PrivateKey, fields: { network: string, peer: string, issuedAt: number, expiresAt: number }): Promise<MembershipCertificate> {
  peerIdFromString(fields.peer) // throws on a malformed peer id
  if (fields.expiresAt <= fields.issuedAt) throw new RangeError('a certificate must expire after it is issued')
  const sig = await adminKey.sign(certificateSigningBytes(fields))
  return MembershipCertificate.parse({ v: 1, ...fields, sig: Buffer.from(sig).toString('base64url') })
}

/** Check shape, network, peer, signature and validity period, in that order. */
export async function verifyCertificate (input: unknown, ctx: CertificateContext): Promise<CertificateCheck> {
  const parsed = MembershipCertificate.safeParse(input)
  if (!parsed.success) {
    return { ok: false, reason: 'malformed', detail: parsed.error.issues.map(i => `${i.path.join('.') || 'certificate'}: ${i.message}`).join('; ') }
  }
  const cert = parsed.data
  if (cert.network !== ctx.network) {
    return { ok: false, reason: 'foreign-network', detail: `certificate is for network "${cert.network}", not "${ctx.network}"` }
  }
  if (ctx.peer != null && cert.peer !== ctx.peer) {
    return { ok: false, reason: 'wrong-peer', detail: `certificate names peer ${cert.peer}, presented by ${ctx.peer}` }
  }
  let valid = false
  try {
    valid = await publicKeyFromRaw(ctx.adminPublicKey).verify(certificateSigningBytes(cert), Buffer.from(cert.sig, 'base64url'))
  } catch {
    valid = false
  }
  if (!valid) {
    return { ok: false, reason: 'bad-signature', detail: 'signature does not verify under this network\'s admin key' }
  }
  const now = ctx.now ?? Date.now()
  if (cert.expiresAt <= now) {
    return { ok: false, reason: 'expired', detail: `certificate expired at ${new Date(cert.expiresAt).toISOString()}` }
  }
  if (cert.issuedAt > now + CLOCK_SKEW_MS) {
    return { ok: false, reason: 'not-yet-valid', detail: `certificate is issued in the future (${new Date(cert.issuedAt).toISOString()})` }
  }
  return { ok: true, certificate: cert }
}

export function encodeCertificateText (cert: MembershipCertificate): string {
  return CERTIFICATE_TEXT_PREFIX + Buffer.from(JSON.stringify(cert), 'utf8').toString('base64url')
}

/** Decode the text form; returns the raw JSON value (verify it with `verifyCertificate`). */
export function decodeCertificateText (text: string): unknown {
  const trimmed = text.trim()
  if (!trimmed.startsWith(CERTIFICATE_TEXT_PREFIX) || trimmed.length > 4096) {
    throw new SyntaxError(`not a texmesh certificate (it should start with "${CERTIFICATE_TEXT_PREFIX}")`)
  }
  const body = trimmed.slice(CERTIFICATE_TEXT_PREFIX.length)
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new SyntaxError('certificate is damaged (characters outside base64url)')
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    throw new SyntaxError('certificate is damaged (not valid JSON inside)')
  }
}
