import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import { DataDir, assertAdminKey, encodePublicKey } from './datadir.js'
import { DataDirStateError, InvalidInviteError } from '../errors.js'
import { decodeInvite, encodeInvite, NetworkDescriptor } from './invite.js'
import { issueCertificate, issueRevocation, encodeCertificateText, encodeRevocationText, type MembershipCertificate, type Revocation } from '../../protocols/membership/index.js'

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
  // Checked before anything is written: a refused init leaves the data dir as it was.
  checkDays(days)
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
  // This node's addresses as they are now replace the ones it had when the network was made or
  // last joined (a node moved to other ports must not leave dead entries for joiners to redial).
  const { peerId } = await dataDir.identity()
  const own = addresses.length > 0 ? `/p2p/${peerId.toString()}` : null
  const others = network.bootstrap.filter(a => own == null || !a.endsWith(own))
  const bootstrap = [...new Set([...addresses, ...others])].slice(0, MAX_INVITE_BOOTSTRAP)
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
      const how = existing.name === network.name ? ` (the invite is for another network of the same name: its ${existing.psk !== network.psk ? 'key' : 'admin'} differs)` : ''
      throw new DataDirStateError(`data dir ${dataDir.paths.root} already belongs to network "${existing.name}"${how}; use another --data-dir to join "${network.name}"`)
    }
    const merged = { ...existing, bootstrap: [...new Set([...existing.bootstrap, ...network.bootstrap])].slice(0, 64) }
    await dataDir.writeNetwork(merged)
    return { network: merged, peerId: peerId.toString(), joined: false }
  }
  await dataDir.writeNetwork(network)
  return { network, peerId: peerId.toString(), joined: true }
}

/** The network and its admin key, where the admin key is (admit and revoke run there). */
async function asAdmin (dataDir: DataDir): Promise<{ network: NetworkDescriptor, adminKey: Ed25519PrivateKey }> {
  const network = await requireNetwork(dataDir)
  const adminKey = await dataDir.adminKey()
  if (adminKey == null) {
    throw new DataDirStateError(`no admin key in ${dataDir.paths.root}: run this on the machine where "texmesh network init" made network "${network.name}"`)
  }
  if (encodePublicKey(adminKey) !== network.admin) {
    throw new DataDirStateError(`${dataDir.paths.adminKey} is not the admin key of network "${network.name}"`)
  }
  return { network, adminKey }
}

function texmeshPeerId (peer: string): PeerId {
  let id: PeerId
  try {
    id = peerIdFromString(peer)
  } catch {
    throw new DataDirStateError(`"${peer}" is not a valid peer id (texmesh status --data-dir ... on the node prints it)`)
  }
  // Texmesh nodes have Ed25519 keys; certificates name the id as nodes print it (12D3KooW...).
  if (id.type !== 'Ed25519') throw new DataDirStateError(`"${peer}" is a ${id.type} peer id; texmesh nodes have Ed25519 ids (texmesh status on the node prints its id)`)
  return id
}

/**
 * Revoke a member: the admin signs that `peer` is no member from now on, and the revocation is
 * kept in the data dir (a node running here publishes it in the replicated store; see the daemon).
 */
export async function revoke (dataDir: DataDir, peer: string): Promise<Revocation> {
  const { network, adminKey } = await asAdmin(dataDir)
  const id = texmeshPeerId(peer)
  const revocation = await issueRevocation(adminKey, { network: network.name, peer: id.toString(), revokedAt: Date.now() })
  await dataDir.addRevocation(encodeRevocationText(revocation))
  return revocation
}

export async function admit (dataDir: DataDir, peer: string, days = DEFAULT_CERTIFICATE_DAYS): Promise<MembershipCertificate> {
  const { network, adminKey } = await asAdmin(dataDir)
  const id = texmeshPeerId(peer)
  checkDays(days)
  const issuedAt = Date.now()
  return await issueCertificate(adminKey, { network: network.name, peer: id.toString(), issuedAt, expiresAt: issuedAt + Math.round(days * DAY_MS) })
}

/** A certificate lasts at least a minute and at most MAX_CERTIFICATE_DAYS. */
function checkDays (days: number): void {
  if (!Number.isFinite(days) || days * DAY_MS < 60_000 || days > MAX_CERTIFICATE_DAYS) {
    throw new DataDirStateError(`--days must be a number of days from one minute (${(60_000 / DAY_MS).toFixed(5)}) to ${MAX_CERTIFICATE_DAYS}`)
  }
}

export async function requireNetwork (dataDir: DataDir): Promise<NetworkDescriptor> {
  const network = await dataDir.network()
  if (network == null) {
    throw new DataDirStateError(`data dir ${dataDir.paths.root} is not in a private network: make one (texmesh network init --name NAME) or join one (texmesh join INVITE)`)
  }
  return network
}
