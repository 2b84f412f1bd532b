import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** Where a node keeps everything: the default data dir and the names of the files in it. */
export function defaultDataDir (env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.TEXMESH_HOME
  return resolve(fromEnv != null && fromEnv !== '' ? fromEnv : join(homedir(), '.texmesh'))
}

export interface DataDirPaths {
  readonly root: string
  /** user settings, JSON; optional */
  readonly config: string
  /** this node's Ed25519 private key (libp2p protobuf encoding), mode 0600 */
  readonly identity: string
  /** the private network this node belongs to (name, pre-shared key, admin public key, bootstrap), mode 0600 */
  readonly network: string
  /** the network admin's Ed25519 private key, only where the network was made, mode 0600 */
  readonly adminKey: string
  /** this node's membership certificate, signed by the admin key */
  readonly certificate: string
  /** revocations made or received here (texmesh-revoke-v1:... texts, one a line); the node publishes them */
  readonly revocations: string
  /** bearer token for calls to the local API that change something, mode 0600 */
  readonly apiToken: string
  /** written by a running node: pid, API port, peer id; removed on shutdown */
  readonly runtime: string
  /** LevelDB holding the libp2p peer store; its lock marks the data dir as in use */
  readonly peerStore: string
  /** LevelDB holding the replicated store's envelope log (crdt/) */
  readonly replica: string
  /** LevelDB holding the tasks this node accepted, their leases and the submitted images */
  readonly tasks: string
  /** LevelDB holding the votes this node signed, so it never signs a second one on a task */
  readonly votes: string
  /** the formula memory's saved index (memory/snapshot.ts); rebuilt from the store when missing */
  readonly memory: string
  /** documents submitted here (node/daemon/documents.ts): one JSON file each, naming its formulas' tasks */
  readonly documents: string
}

export function dataDirPaths (root: string): DataDirPaths {
  const dir = resolve(root)
  return {
    root: dir,
    config: join(dir, 'config.json'),
    identity: join(dir, 'identity.key'),
    network: join(dir, 'network.json'),
    adminKey: join(dir, 'admin.key'),
    certificate: join(dir, 'membership.cert'),
    revocations: join(dir, 'revocations.txt'),
    apiToken: join(dir, 'api-token'),
    runtime: join(dir, 'node.json'),
    peerStore: join(dir, 'peerstore'),
    replica: join(dir, 'replica'),
    tasks: join(dir, 'tasks'),
    votes: join(dir, 'votes'),
    memory: join(dir, 'memory'),
    documents: join(dir, 'documents')
  }
}
