import { Level } from 'level'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { CachedLevelDatastore } from './peer-store-cache.js'
import { isLockError, type DataDir } from '../datadir/datadir.js'
import { DataDirInUseError } from '../errors.js'
import type { Log } from '../log.js'
import { Replica } from '../../crdt/replica.js'
import type { Trust } from './trust.js'

/**
 * The node's two stores in its data dir: libp2p's peer store (whose LevelDB
 * lock is the data dir lock) and the replicated store, opened with the trust
 * rules that decide whose updates count.
 */

/** The peer store; refuses a data dir another running node holds. */
export async function openPeerStore (dataDir: DataDir): Promise<CachedLevelDatastore> {
  // Opened here rather than by LevelDatastore, whose open() drops the error's cause.
  // The LevelDB lock is the data dir lock: the OS drops it when the holder dies, even by kill -9.
  const db = new Level<string, Uint8Array>(dataDir.paths.peerStore, { keyEncoding: 'utf8', valueEncoding: 'view' })
  try {
    await db.open()
  } catch (err) {
    if (isLockError(err)) {
      const runtime = await dataDir.runtime()
      const who = runtime != null ? ` (pid ${runtime.pid}, API port ${runtime.apiPort})` : ''
      throw new DataDirInUseError(`data dir ${dataDir.paths.root} is in use by another running texmesh node${who}; stop it or choose another with --data-dir`)
    }
    throw err
  }
  const datastore = new CachedLevelDatastore(db)
  await datastore.open()
  return datastore
}

/** The replicated store, admitting updates by `trust`'s rules; says what the start set aside. */
export async function openReplica (dataDir: DataDir, key: Ed25519PrivateKey, trust: Trust, storeLog: Log): Promise<Replica> {
  const replica = await Replica.open({
    path: dataDir.paths.replica,
    key,
    admits: author => trust.admits(author),
    // An author offline or known only through a relay counts if its certificate (in the members map, or in the envelope) verifies.
    ...(trust.admin != null ? { certifiedUntil: async (author: string, text: string) => await trust.certifiedUntil(author, text) } : {}),
    onReject: (reason, detail, author, held) => {
      // Held updates are the normal case while a member's certificate spreads: not worth a warning.
      if (held) storeLog.debug({ reason, detail, author }, 'holding a store update until its author is known as a member')
      else storeLog.warn({ reason, detail, author }, 'refused a store update')
    }
  })
  trust.attachReplica(replica)
  return replica
}
