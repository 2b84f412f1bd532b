import { z } from 'zod'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidInviteError } from '../errors.js'

/**
 * What a node needs to join a private network: its name, the libp2p pre-shared
 * key, the admin's public key (which signs membership certificates) and where
 * to find the first peers. An invite is this object as JSON, base64url-encoded
 * behind a versioned prefix, so it survives copy and paste through chat and shell.
 */
export const NetworkDescriptor = z.object({
  /** human-readable network name, also bound into every membership certificate */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a network name is 1-64 letters, digits, ".", "_" or "-"'),
  /** 32-byte pre-shared key for libp2p pnet, hex */
  psk: z.string().regex(/^[0-9a-f]{64}$/, 'the network key is 64 hex digits'),
  /** admin Ed25519 public key, raw 32 bytes, base64url */
  admin: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'the admin key is a base64url Ed25519 public key'),
  /** multiaddrs with /p2p/ peer ids */
  bootstrap: z.array(z.string().max(512)).max(64)
}).strict()
export type NetworkDescriptor = z.infer<typeof NetworkDescriptor>

export const INVITE_PREFIX = 'texmesh-invite-v1:'
/** invites are pasted by hand; anything longer is not one of ours */
const MAX_INVITE_LENGTH = 16 * 1024

export function encodeInvite (network: NetworkDescriptor): string {
  const checked = NetworkDescriptor.parse(network)
  return INVITE_PREFIX + Buffer.from(JSON.stringify(checked), 'utf8').toString('base64url')
}

export function decodeInvite (invite: string): NetworkDescriptor {
  const text = invite.trim()
  if (text.length > MAX_INVITE_LENGTH) throw new InvalidInviteError('invite is too long')
  if (!text.startsWith(INVITE_PREFIX)) {
    throw new InvalidInviteError(`not a texmesh invite (it should start with "${INVITE_PREFIX}")`)
  }
  const body = text.slice(INVITE_PREFIX.length)
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new InvalidInviteError('invite is damaged (characters outside base64url)')
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidInviteError('invite is damaged (not valid JSON inside)')
  }
  const parsed = NetworkDescriptor.safeParse(json)
  if (!parsed.success) {
    throw new InvalidInviteError(`invite is invalid: ${parsed.error.issues.map(i => `${i.path.join('.') || 'invite'}: ${i.message}`).join('; ')}`)
  }
  for (const addr of parsed.data.bootstrap) {
    validateBootstrapAddr(addr, InvalidInviteError)
  }
  return parsed.data
}

/** A bootstrap address must parse and name the peer it reaches. */
export function validateBootstrapAddr (addr: string, ErrorClass: new (message: string) => Error): void {
  let ma
  try {
    ma = multiaddr(addr)
  } catch (err) {
    throw new ErrorClass(`bootstrap address "${addr}" is not a multiaddr: ${(err as Error).message}`)
  }
  const p2p = ma.getComponents().findLast(c => c.name === 'p2p')
  if (p2p?.value == null) {
    throw new ErrorClass(`bootstrap address "${addr}" has no /p2p/PEER_ID part`)
  }
  try {
    peerIdFromString(p2p.value)
  } catch {
    throw new ErrorClass(`bootstrap address "${addr}" names an invalid peer id`)
  }
}

/** libp2p pnet wants the go-ipfs swarm key file format. */
export function swarmKeyFromPsk (pskHex: string): Uint8Array {
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${pskHex}`)
}
