import { stat, chmod } from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { readFileIfExists, writeFileAtomic } from './files.js'
import { DataDirStateError } from '../errors.js'

/**
 * Ed25519 keys kept in files of the data dir (libp2p protobuf encoding, mode 0600).
 * The node key is the libp2p identity and will also sign votes and CRDT updates.
 */
export async function loadKey (path: string): Promise<Ed25519PrivateKey | undefined> {
  const bytes = await readFileIfExists(path)
  if (bytes == null) return undefined
  let key
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new DataDirStateError(`key file ${path} is corrupt: ${(err as Error).message}`, { cause: err })
  }
  if (key.type !== 'Ed25519') {
    throw new DataDirStateError(`key file ${path} holds a ${key.type} key; texmesh needs Ed25519`)
  }
  // A key readable by others is a key others may have copied: tighten it, as ssh would insist.
  const mode = (await stat(path)).mode & 0o777
  if ((mode & 0o077) !== 0) await chmod(path, 0o600)
  return key
}

/** Load the key at `path`, or make a new one there when there is none. */
export async function loadOrCreateKey (path: string): Promise<{ key: Ed25519PrivateKey, created: boolean }> {
  const existing = await loadKey(path)
  if (existing != null) return { key: existing, created: false }
  const key = await generateKeyPair('Ed25519')
  await writeFileAtomic(path, privateKeyToProtobuf(key), { secret: true })
  return { key, created: true }
}
