import { mkdir, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import { z } from 'zod'
import { readFileSync } from 'node:fs'
import { dataDirPaths, type DataDirPaths } from './paths.js'
import { readFileIfExists, writeFileAtomic } from './files.js'
import { loadKey, loadOrCreateKey } from './keys.js'
import { DataDirStateError, InvalidCertificateError } from '../errors.js'
import { NetworkDescriptor } from './invite.js'
import { decodeCertificateText, encodeCertificateText, verifyCertificate, MembershipCertificate } from '../../protocols/membership/index.js'

/**
 * Everything a node keeps in its data dir apart from databases: identity,
 * network, admin key, certificate, API token, and the runtime file a running
 * node leaves for the CLI. Files that hold secrets are written with mode 0600.
 */
export class DataDir {
  readonly paths: DataDirPaths
  constructor (root: string) {
    this.paths = dataDirPaths(root)
  }

  async ensure (): Promise<void> {
    await mkdir(this.paths.root, { recursive: true, mode: 0o700 })
  }

  async identity (): Promise<{ key: Ed25519PrivateKey, peerId: PeerId, created: boolean }> {
    await this.ensure()
    const { key, created } = await loadOrCreateKey(this.paths.identity)
    return { key, peerId: peerIdFromPrivateKey(key), created }
  }

  async network (): Promise<NetworkDescriptor | undefined> {
    const bytes = await readFileIfExists(this.paths.network)
    if (bytes == null) return undefined
    let json: unknown
    try {
      json = JSON.parse(bytes.toString('utf8'))
    } catch (err) {
      throw new DataDirStateError(`${this.paths.network} is not valid JSON: ${(err as Error).message}`)
    }
    const parsed = NetworkDescriptor.safeParse(json)
    if (!parsed.success) throw new DataDirStateError(`${this.paths.network} is invalid: ${parsed.error.issues.map(i => i.message).join('; ')}`)
    return parsed.data
  }

  async writeNetwork (network: NetworkDescriptor): Promise<void> {
    await this.ensure()
    await writeFileAtomic(this.paths.network, JSON.stringify(NetworkDescriptor.parse(network), null, 2) + '\n', { secret: true })
  }

  async adminKey (): Promise<Ed25519PrivateKey | undefined> {
    return await loadKey(this.paths.adminKey)
  }

  async createAdminKey (): Promise<Ed25519PrivateKey> {
    if (await this.adminKey() != null) throw new DataDirStateError(`${this.paths.adminKey} already exists`)
    return (await loadOrCreateKey(this.paths.adminKey)).key
  }

  /** The revocation texts kept here (see `addRevocation`), unchecked. */
  async revocations (): Promise<string[]> {
    const bytes = await readFileIfExists(this.paths.revocations)
    return bytes == null ? [] : bytes.toString('utf8').split('\n').map(l => l.trim()).filter(l => l !== '')
  }

  /** Keep a revocation text (once). */
  async addRevocation (text: string): Promise<void> {
    const known = await this.revocations()
    if (known.includes(text.trim())) return
    await this.ensure()
    await writeFileAtomic(this.paths.revocations, [...known, text.trim()].join('\n') + '\n')
  }

  /** This node's certificate, if one is installed. Not re-verified here: see `installCertificate`. */
  async certificate (): Promise<MembershipCertificate | undefined> {
    const bytes = await readFileIfExists(this.paths.certificate)
    if (bytes == null) return undefined
    const network = await this.network()
    if (network == null) return undefined
    const { peerId } = await this.identity()
    let raw: unknown
    try {
      raw = decodeCertificateText(bytes.toString('utf8'))
    } catch (err) {
      throw new DataDirStateError(`${this.paths.certificate}: ${(err as Error).message}`)
    }
    const check = await verifyCertificate(raw, { network: network.name, adminPublicKey: adminPublicKeyOf(network), peer: peerId.toString() })
    if (check.ok) return check.certificate
    // An expired certificate is still ours: keep presenting it so peers and `status` say why it no longer counts.
    if (check.reason === 'expired' || check.reason === 'not-yet-valid') return MembershipCertificate.parse(raw)
    throw new DataDirStateError(`${this.paths.certificate} does not belong to this node and network: ${check.detail}`)
  }

  /**
   * Check a certificate against this data dir's network and identity and keep it.
   * An expired certificate is refused too: installing it would achieve nothing.
   */
  async installCertificate (text: string): Promise<MembershipCertificate> {
    const network = await this.network()
    if (network == null) throw new DataDirStateError('this node is not in a private network: join one first (texmesh join INVITE)')
    const { peerId } = await this.identity()
    let raw: unknown
    try {
      raw = decodeCertificateText(text)
    } catch (err) {
      throw new InvalidCertificateError((err as Error).message)
    }
    const check = await verifyCertificate(raw, { network: network.name, adminPublicKey: adminPublicKeyOf(network), peer: peerId.toString() })
    if (!check.ok) throw new InvalidCertificateError(`certificate refused (${check.reason}): ${check.detail}`)
    await writeFileAtomic(this.paths.certificate, encodeCertificateText(check.certificate) + '\n')
    return check.certificate
  }

  /** The API token, made on first use. */
  async apiToken (): Promise<string> {
    const existing = await readFileIfExists(this.paths.apiToken)
    if (existing != null && existing.toString('utf8').trim() !== '') return existing.toString('utf8').trim()
    await this.ensure()
    const token = randomBytes(32).toString('base64url')
    await writeFileAtomic(this.paths.apiToken, token + '\n', { secret: true })
    return token
  }

  /**
   * What the running node wrote about itself; undefined when none runs. A file left by a killed
   * node is ignored, even when its pid has since gone to another process (after a reboot, say):
   * the file names the process by its boot and start time as well, where the system tells them.
   */
  async runtime (): Promise<RuntimeInfo | undefined> {
    const bytes = await readFileIfExists(this.paths.runtime)
    if (bytes == null) return undefined
    let info: RuntimeInfo
    try {
      info = RuntimeInfo.parse(JSON.parse(bytes.toString('utf8')))
    } catch {
      return undefined
    }
    return isRunning(info) ? info : undefined
  }

  async writeRuntime (info: RuntimeInfo): Promise<void> {
    await writeFileAtomic(this.paths.runtime, JSON.stringify(info, null, 2) + '\n')
  }

  async removeRuntime (): Promise<void> {
    await rm(this.paths.runtime, { force: true })
  }
}

export const RuntimeInfo = z.object({
  pid: z.number().int(),
  /** the node process's boot and start time (see processIdentity), where the system tells them */
  process: z.object({ boot: z.string(), start: z.string() }).optional(),
  peerId: z.string(),
  apiPort: z.number().int(),
  startedAt: z.string(),
  /** the configuration the node runs with, and where each value came from (config show reads them) */
  config: z.record(z.string(), z.unknown()).optional(),
  sources: z.record(z.string(), z.string()).optional()
})
export type RuntimeInfo = z.infer<typeof RuntimeInfo>

/** Whether a LevelDB open failed because another handle (in this process or another) holds its lock. */
export function isLockError (err: unknown): boolean {
  for (let e: any = err, depth = 0; e != null && depth < 5; e = e.cause, depth++) {
    if (e.code === 'LEVEL_LOCKED') return true
  }
  return false
}

/**
 * What tells a process from a later one with the same pid: the boot it runs in and its start
 * time in clock ticks since that boot (Linux's /proc); undefined where the system does not say.
 */
export function processIdentity (pid: number): { boot: string, start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the name (field 2) may hold spaces and parentheses: fields after it follow the last ')'
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    return start != null && /^\d+$/.test(start) ? { boot, start } : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether the node a runtime file describes still runs: its pid is alive and, where the system
 * tells boot and start times, is the same process (not a new one given the pid since).
 */
export function isRunning (info: RuntimeInfo): boolean {
  if (!processAlive(info.pid)) return false
  if (info.process == null) return true
  const now = processIdentity(info.pid)
  return now == null || (now.boot === info.process.boot && now.start === info.process.start)
}

function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    // EPERM: alive, but another user's
    return err?.code === 'EPERM'
  }
}

export function adminPublicKeyOf (network: NetworkDescriptor): Uint8Array {
  return Buffer.from(network.admin, 'base64url')
}

/** Raw Ed25519 public key, base64url: the form invites carry. */
export function encodePublicKey (key: Ed25519PrivateKey): string {
  return Buffer.from(key.publicKey.raw).toString('base64url')
}

/** check that an invite's admin key really is an Ed25519 public key */
export function assertAdminKey (network: NetworkDescriptor): void {
  publicKeyFromRaw(adminPublicKeyOf(network))
}
