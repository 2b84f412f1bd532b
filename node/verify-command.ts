import { readFile, stat } from 'node:fs/promises'
import { ApiClient } from './client.js'
import { adminPublicKeyOf, type DataDir } from './datadir.js'
import { ApiError, TexmeshError } from './errors.js'
import type { TaskView } from './tasks.js'
import { verifyQuorumCertificate, type QuorumCheck } from '../protocols/votes/index.js'

/**
 * `texmesh verify ID_OR_FILE`: check a quorum certificate offline, against the
 * network of this data dir (its admin public key decides who was a member).
 * FILE holds a certificate, or any JSON object with one under "certificate"
 * or "result.certificate" (what `texmesh result --json` prints); an ID is a
 * task of the running node.
 */
function certificateIn (json: any): unknown {
  if (json?.votes != null) return json
  return json?.certificate ?? json?.result?.certificate
}

export async function loadCertificate (dataDir: DataDir, arg: string): Promise<{ certificate: unknown, source: string }> {
  const isFile = await stat(arg).then(s => s.isFile(), () => false)
  if (isFile) {
    let json: unknown
    try {
      json = JSON.parse(await readFile(arg, 'utf8'))
    } catch (err) {
      throw new TexmeshError(`${arg} is not JSON: ${(err as Error).message}`)
    }
    const certificate = certificateIn(json)
    if (certificate == null) throw new TexmeshError(`${arg} holds no quorum certificate`)
    return { certificate, source: arg }
  }
  if (!/^[0-9a-z]{13}-[0-9a-f]{6}$/.test(arg)) throw new TexmeshError(`${arg} is neither a file nor a task id`)
  const client = await ApiClient.forDataDir(dataDir)
  let task: TaskView
  try {
    task = await client.get<TaskView>(`/v1/tasks/${encodeURIComponent(arg)}`)
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new TexmeshError(`the running node has no task ${arg}`)
    throw err
  }
  if (task.result?.certificate == null) {
    throw new TexmeshError(`task ${arg} has no quorum certificate (state ${task.state}${task.critical ? '' : ', not critical'})`)
  }
  return { certificate: task.result.certificate, source: `task ${arg}` }
}

export async function runVerify (dataDir: DataDir, arg: string, minF = 1): Promise<QuorumCheck> {
  const { certificate } = await loadCertificate(dataDir, arg)
  const network = await dataDir.network()
  return await verifyQuorumCertificate(certificate, { minF, ...(network != null ? { network: { name: network.name, adminPublicKey: adminPublicKeyOf(network) } } : {}) })
}

export function describeCheck (check: QuorumCheck): string {
  if (!check.ok) return `the certificate does not hold (${check.reason}): ${check.detail}`
  const c = check.certificate
  return [
    `the certificate holds: ${check.voters.length} signed votes agree (${2 * c.f + 1} needed, f = ${c.f})`,
    `task    ${c.task}`,
    `image   ${c.image}`,
    `model   ${c.model}`,
    `latex   ${c.latex}`,
    `network ${c.network ?? 'open (no roster: any node counts)'}`,
    'voters',
    ...c.votes.map(v => `  ${v.voter}  ${new Date(v.time).toISOString()}  confidence ${v.confidence.toFixed(2)}`)
  ].join('\n')
}
