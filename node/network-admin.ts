import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { DataDir, assertAdminKey, encodePublicKey } from './datadir.js'
import { DataDirStateError, InvalidInviteError } from './errors.js'
import { decodeInvite, encodeInvite, NetworkDescriptor } from './invite.js'
import { issueCertificate, encodeCertificateText, type MembershipCertificate } from '../protocols/membership/index.js'

/**
 * The network life cycle as data-dir operations: make a network, join one
 * from an invite, admit a member. The CLI formats; these do the work.
 */

/** invites are pasted by hand: keep the bootstrap list short */
const MAX_INVITE_BOOTSTRAP = 16
export const DEFAULT_CERTIFICATE_DAYS = 365
/** a century: beyond it expiry dates stop being meaningful (and Date overflows far beyond) */
const MAX_CERTIFICATE_DAYS = 36_500
const DAY_MS = 24 * 3600 * 1000

export interface InitResult {
  network: NetworkDescriptor
  invite: string
  peerId: string
  certificate: MembershipCertificate
}

export async function initNetwork (dataDir: DataDir, name: string, bootstrap: string[], days = DEFAULT_CERTIFICATE_DAYS): Promise<InitResult> {
  const existing = await dataDir.network()
  if (existing != null) {
    throw new DataDirStateError(`data dir ${dataDir.paths.root} already belongs to network "${existing.name}"; use another --data-dir`)
  }
  if (await dataDir.adminKey() != null) {
    throw new DataDirStateError(`${dataDir.paths.adminKey} exists without a network; move it away before making a new network`)
  }
  const network: NetworkDescriptor = {
    name,
    psk: randomBytes(32).toString('hex'),
    admin: '',
    bootstrap: bootstrap.slice(0, MAX_INVITE_BOOTSTRAP)
  }
  const nameCheck = NetworkDescriptor.shape.name.safeParse(name)
  if (!nameCheck.success) throw new InvalidInviteError(`invalid network name "${name}": ${nameCheck.error.issues[0]?.message ?? 'invalid'}`)
  const { peerId } = await dataDir.identity()
  const adminKey = await dataDir.createAdminKey()
  network.admin = encodePublicKey(adminKey)
  await dataDir.writeNetwork(network)
  // The node where the network is made is its first member.
  const certificate = await admit(dataDir, peerId.toString(), days)
  await dataDir.installCertificate(encodeCertificateText(certificate))
  return { network, invite: encodeInvite(network), peerId: peerId.toString(), certificate }
}

export async function makeInvite (dataDir: DataDir, addresses: string[]): Promise<{ network: NetworkDescriptor, invite: string }> {
  const network = await requireNetwork(dataDir)
  const bootstrap = [...new Set([...addresses, ...network.bootstrap])].slice(0, MAX_INVITE_BOOTSTRAP)
  const withBootstrap = { ...network, bootstrap }
  return { network: withBootstrap, invite: encodeInvite(withBootstrap) }
}

export interface JoinResult {
  network: NetworkDescriptor
  peerId: string
  /** false when the data dir already was in this network and only its bootstrap list was updated */
  joined: boolean
}

export async function joinNetwork (dataDir: DataDir, invite: string): Promise<JoinResult> {
  const network = decodeInvite(invite)
  try {
    assertAdminKey(network)
  } catch {
    throw new InvalidInviteError('invite is invalid: its admin key is not an Ed25519 public key')
  }
  const existing = await dataDir.network()
  const { peerId } = await dataDir.identity()
  if (existing != null) {
    if (existing.psk !== network.psk || existing.admin !== network.admin || existing.name !== network.name) {
      throw new DataDirStateError(`data dir ${dataDir.paths.root} already belongs to network "${existing.name}"; use another --data-dir to join "${network.name}"`)
    }
    const merged = { ...existing, bootstrap: [...new Set([...existing.bootstrap, ...network.bootstrap])].slice(0, 64) }
    await dataDir.writeNetwork(merged)
    return { network: merged, peerId: peerId.toString(), joined: false }
  }
  await dataDir.writeNetwork(network)
  return { network, peerId: peerId.toString(), joined: true }
}

export async function admit (dataDir: DataDir, peer: string, days = DEFAULT_CERTIFICATE_DAYS): Promise<MembershipCertificate> {
  const network = await requireNetwork(dataDir)
  const adminKey = await dataDir.adminKey()
  if (adminKey == null) {
    throw new DataDirStateError(`no admin key in ${dataDir.paths.root}: run this on the machine where "texmesh network init" made network "${network.name}"`)
  }
  if (encodePublicKey(adminKey) !== network.admin) {
    throw new DataDirStateError(`${dataDir.paths.adminKey} is not the admin key of network "${network.name}"`)
  }
  try {
    peerIdFromString(peer)
  } catch {
    throw new DataDirStateError(`"${peer}" is not a valid peer id (texmesh status --data-dir ... on the new node prints it)`)
  }
  if (!Number.isFinite(days) || days <= 0 || days > MAX_CERTIFICATE_DAYS) throw new DataDirStateError(`--days must be a number of days between 0 and ${MAX_CERTIFICATE_DAYS}`)
  const issuedAt = Date.now()
  return await issueCertificate(adminKey, { network: network.name, peer, issuedAt, expiresAt: issuedAt + Math.round(days * DAY_MS) })
}

export async function requireNetwork (dataDir: DataDir): Promise<NetworkDescriptor> {
  const network = await dataDir.network()
  if (network == null) {
    throw new DataDirStateError(`data dir ${dataDir.paths.root} is not in a private network: make one (texmesh network init --name NAME) or join one (texmesh join INVITE)`)
  }
  return network
}
