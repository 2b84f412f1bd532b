import { sha256Hex } from '../../util/sha256.js'
import { readFile, stat } from 'node:fs/promises'
import { ApiClient } from './client.js'
import { adminPublicKeyOf, type DataDir } from '../datadir/datadir.js'
import { ApiError, TexmeshError } from '../errors.js'
import type { TaskView } from '../daemon/work.js'
import { verifyQuorumCertificate, type QuorumCheck } from '../../protocols/votes/index.js'
import { decodeRevocationText, verifyRevocation } from '../../protocols/membership/index.js'
import type { Command } from 'commander'
import { dataDirOf, parsePositive, print, withDataDir, withJson, type CommonOptions } from './options.js'
import { ConfigError } from '../errors.js'

/**
 * `texmesh verify ID_OR_FILE`: check a quorum certificate offline, against the
 * network of this data dir (its admin public key decides who was a member),
 * or against a network named with its admin public key (an outside auditor
 * needs no data dir). FILE holds a certificate, or any JSON object with one
 * under "certificate" or "result.certificate" (what `texmesh submit --json`
 * and `texmesh result --json` print); an ID is a task of the running node.
 * The answer, image hash and model a file states must be the certificate's,
 * and with --image the image's SHA-256 must be the one voted on.
 */
function certificateIn (json: any): unknown {
  if (json?.votes != null) return json
  return json?.certificate ?? json?.result?.certificate
}

/** What a result file states beside its certificate: its answer, image hash and model, where it says them. */
export interface StatedResult {
  latex?: unknown
  hash?: unknown
  model?: unknown
}

function statedIn (json: any): StatedResult {
  if (json?.votes != null) return {} // a bare certificate states nothing else
  const r = json?.result ?? {}
  const pick = (k: string): unknown => json?.[k] ?? r?.[k]
  const out: StatedResult = {}
  for (const k of ['latex', 'hash', 'model'] as const) if (pick(k) !== undefined) out[k] = pick(k)
  return out
}

export async function loadCertificate (dataDir: DataDir | undefined, arg: string): Promise<{ certificate: unknown, source: string, stated: StatedResult }> {
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
    return { certificate, source: arg, stated: statedIn(json) }
  }
  if (!/^[0-9a-z]{13}-[0-9a-f]{6}$/.test(arg)) throw new TexmeshError(`${arg} is neither a file nor a task id`)
  if (dataDir == null) throw new TexmeshError(`${arg} is not a file (a task id needs a running node's data dir)`)
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
  return { certificate: task.result.certificate, source: `task ${arg}`, stated: { latex: task.result.latex, hash: task.hash, model: task.result.model } }
}

export interface VerifyOptions {
  minF?: number
  /** the image itself: its SHA-256 must be the image the certificate's votes are on */
  image?: string
  /** an outside auditor's network: its name and admin public key (base64url), instead of a data dir's */
  network?: { name: string, admin: string }
  /** revocations (texmesh-revoke-v1:...) to apply besides those the data dir and its running node know */
  revocations?: string[]
}

export type VerifyCheck = (QuorumCheck & { checked?: string[] }) | { ok: false, reason: 'not-this-result', detail: string }

export async function runVerify (dataDir: DataDir | undefined, arg: string, opts: VerifyOptions = {}): Promise<VerifyCheck> {
  const { certificate, stated } = await loadCertificate(dataDir, arg)
  let network: { name: string, adminPublicKey: Uint8Array } | undefined
  if (opts.network != null) {
    const key = Buffer.from(opts.network.admin, 'base64url')
    if (!/^[A-Za-z0-9_-]{43}$/.test(opts.network.admin) || key.length !== 32) throw new TexmeshError('--admin-key must be the network\'s admin public key: 43 base64url characters (texmesh status shows it)')
    network = { name: opts.network.name, adminPublicKey: new Uint8Array(key) }
  } else if (dataDir != null) {
    const own = await dataDir.network()
    if (own != null) network = { name: own.name, adminPublicKey: adminPublicKeyOf(own) }
  }
  const texts: string[] = []
  if (network != null && dataDir != null) {
    texts.push(...await dataDir.revocations())
    if (await dataDir.runtime() != null) {
      const known = await (await ApiClient.forDataDir(dataDir)).get<Array<{ revocation: string }>>('/v1/revocations').catch(() => [])
      texts.push(...known.map(r => r.revocation))
    }
  }
  return await checkCertificate(certificate, stated, { ...opts, network, known: texts })
}

/**
 * Check a certificate (what `texmesh verify` and the node's POST /v1/tasks/ID/verify do): its votes
 * against the network (revocations: those `opts.revocations` gives, which must be valid, and those
 * known, which are skipped when they are not), and the answer, image hash and model stated beside it.
 */
export async function checkCertificate (certificate: unknown, stated: StatedResult, opts: Omit<VerifyOptions, 'network'> & { network: { name: string, adminPublicKey: Uint8Array } | undefined, known?: string[] }): Promise<VerifyCheck> {
  const network = opts.network
  // Revocations: a voter's votes after the admin revoked it do not count.
  const revoked = new Map<string, number>()
  if (network != null) {
    const texts = [...(opts.revocations ?? []), ...(opts.known ?? [])]
    for (const text of texts) {
      let check
      try {
        check = await verifyRevocation(decodeRevocationText(text), { network: network.name, adminPublicKey: network.adminPublicKey })
      } catch (err) {
        throw new TexmeshError(`a revocation is not readable: ${(err as Error).message}`)
      }
      if (!check.ok) {
        if (opts.revocations?.includes(text) === true) throw new TexmeshError(`--revocation: ${check.reason}: ${check.detail}`)
        continue
      }
      const r = check.revocation
      if (r.revokedAt < (revoked.get(r.peer) ?? Infinity)) revoked.set(r.peer, r.revokedAt)
    }
  }
  const check = await verifyQuorumCertificate(certificate, { minF: opts.minF ?? 1, ...(network != null ? { network } : {}), revokedAt: peer => revoked.get(peer) })
  if (!check.ok) return check
  const c = check.certificate
  // The file's own answer, image and model must be what was voted on (as nodes require of a stored result).
  const checked: string[] = []
  const mismatch = (what: string, stated: unknown, certified: string): VerifyCheck =>
    ({ ok: false, reason: 'not-this-result', detail: `the ${what} ${JSON.stringify(stated).slice(0, 120)} is not the certificate's (${certified.slice(0, 120)})` })
  if (stated.latex !== undefined) {
    if (stated.latex !== c.latex) return mismatch('answer', stated.latex, c.latex)
    checked.push('answer')
  }
  if (stated.hash !== undefined) {
    if (stated.hash !== c.image) return mismatch('image hash', stated.hash, c.image)
    checked.push('image hash')
  }
  if (stated.model !== undefined) {
    if (stated.model !== c.model) return mismatch('model', stated.model, c.model)
    checked.push('model')
  }
  if (opts.image != null) {
    const bytes = await readFile(opts.image).catch((err: Error) => { throw new TexmeshError(`--image ${opts.image}: ${err.message}`) })
    const hash = sha256Hex(bytes)
    if (hash !== c.image) return mismatch(`image ${opts.image} (SHA-256)`, hash, c.image)
    checked.push('the image itself')
  }
  return { ...check, checked }
}

export function describeCheck (check: VerifyCheck): string {
  if (!check.ok) return `the certificate does not hold (${check.reason}): ${check.detail}`
  const c = check.certificate
  return [
    `the certificate holds: ${check.voters.length} signed votes agree (${2 * c.f + 1} needed, f = ${c.f})`,
    ...(check.checked != null && check.checked.length > 0 ? [`matches  ${check.checked.join(', ')}`] : []),
    `task    ${c.task}`,
    `image   ${c.image}`,
    `model   ${c.model}`,
    `latex   ${c.latex}`,
    `network ${c.network ?? 'open (no roster: any node counts)'}`,
    'voters',
    ...c.votes.map(v => `  ${v.voter}  ${new Date(v.time).toISOString()}  confidence ${v.confidence.toFixed(2)}`)
  ].join('\n')
}

export function addVerifyCommand (program: Command): void {
  withJson(withDataDir(program.command('verify')))
    .description('check a quorum certificate offline: its votes, signatures and voters (against this data dir\'s network, or one named with its admin key)')
    .argument('<id-or-file>', 'a task id of the running node, or a JSON file with a certificate (e.g. from texmesh submit --critical --wait --json)')
    .option('--min-f <f>', 'refuse certificates that tolerate fewer faults than this', parsePositive('--min-f', 10), 1)
    .option('--image <file>', 'also check that this image is the one voted on (its SHA-256)')
    .option('--network <name>', 'with --admin-key: the network the certificate must be of (an auditor needs no data dir)')
    .option('--admin-key <key>', 'with --network: that network\'s admin public key (base64url; texmesh status shows it)')
    .option('--revocation <text>', 'a revocation (texmesh-revoke-v1:...) to apply: the revoked voter\'s later votes do not count (repeatable; the data dir\'s and its running node\'s are applied anyway)', (v: string, all: string[] = []) => [...all, v])
    .addHelpText('after', `
A file's own answer ("latex"), image hash ("hash") and model must be the certificate's.
The exit code is 0 when the certificate holds, 1 when it does not.`)
    .action(async (arg: string, opts: CommonOptions & { minF: number, image?: string, network?: string, adminKey?: string, revocation?: string[] }) => {
      if ((opts.network == null) !== (opts.adminKey == null)) throw new ConfigError('--network and --admin-key go together')
      const auditor = opts.network != null && opts.adminKey != null ? { name: opts.network, admin: opts.adminKey } : undefined
      const check = await runVerify(auditor != null && opts.dataDir == null ? undefined : dataDirOf(opts), arg,
        { minF: opts.minF, ...(opts.image != null ? { image: opts.image } : {}), ...(auditor != null ? { network: auditor } : {}), ...(opts.revocation != null ? { revocations: opts.revocation } : {}) })
      print(opts.json, check.ok ? { ok: true, voters: check.voters, certificate: check.certificate } : check, () => describeCheck(check))
      if (!check.ok) process.exitCode = 1
    })
}
