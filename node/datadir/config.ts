import { availableParallelism } from 'node:os'
import { z } from 'zod'
import { multiaddr } from '@multiformats/multiaddr'
import { readFileIfExists } from './files.js'
import { ConfigError } from '../errors.js'
import { validateBootstrapAddr } from './invite.js'

/**
 * The node's settings come from four layers, later ones winning:
 * built-in defaults < config.json in the data dir < TEXMESH_* environment < command-line flags.
 */

const multiaddrString = z.string().refine(s => {
  try { multiaddr(s); return true } catch { return false }
}, { message: 'not a valid multiaddr' })

/** What a node can listen on: TCP on an IP address, optionally WebSockets over it (no TLS: wss needs a certificate). */
const listenString = multiaddrString.refine(s => {
  let names: string[]
  try { names = multiaddr(s).getComponents().map(c => c.name) } catch { return true } // said above
  return (names[0] === 'ip4' || names[0] === 'ip6') && names[1] === 'tcp' && (names.length === 2 || (names.length === 3 && names[2] === 'ws'))
}, { message: 'a listen address is /ip4/ADDRESS/tcp/PORT or /ip6/ADDRESS/tcp/PORT, optionally followed by /ws' })

const bootstrapString = z.string().superRefine((s, ctx) => {
  try { validateBootstrapAddr(s, Error) } catch (err) { ctx.addIssue({ code: 'custom', message: (err as Error).message }) }
})

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export const NodeConfig = z.object({
  /** libp2p listen addresses (TCP and WebSockets) */
  listen: z.array(listenString).min(1),
  /** port of the local HTTP API on 127.0.0.1; 0 picks a free one */
  apiPort: z.number().int().min(0).max(65535),
  /** peers to dial at start and keep redialling (multiaddrs with /p2p/ID) */
  bootstrap: z.array(bootstrapString),
  /** find peers on the LAN with multicast DNS */
  mdns: z.boolean(),
  logLevel: z.enum(LOG_LEVELS),
  /** write the log here (JSON lines, rotated at 10 MB, 5 files kept) instead of stderr; null: stderr */
  logFile: z.string().min(1).max(4096).nullable(),
  /** images this node recognises at once, for itself and for others; 0 takes no work */
  workers: z.number().int().min(0).max(64),
  /** how long a worker may hold a task before it is granted to another */
  leaseMs: z.number().int().min(500).max(3_600_000),
  /** faults a critical image's quorum tolerates: 3f+1 voters, 2f+1 matching votes */
  quorumF: z.number().int().min(1).max(10),
  /** a result less confident than this goes to a quorum vote as if submitted critical; null: never; auto: the network's threshold (README: Reviewing results) */
  criticalBelow: z.union([z.number().min(0).max(1), z.literal('auto')]).nullable()
}).strict()
export type NodeConfig = z.infer<typeof NodeConfig>
export type ConfigKey = keyof NodeConfig
export type ConfigSource = 'default' | 'file' | 'env' | 'flag'

/**
 * Images recognised at once by default, by a node's workers and by `texmesh ocr`: one per
 * core, at most 8, each on a worker thread of its own (pipeline/pool.ts) with onnxruntime on
 * one thread: the model's operators are too small to gain from splitting one image over cores
 * (bench:ocr), so cores serve images side by side.
 */
export function imagesPerCore (): number {
  return Math.max(1, Math.min(8, availableParallelism()))
}

export const DEFAULT_CONFIG: NodeConfig = {
  listen: ['/ip4/0.0.0.0/tcp/7474', '/ip4/0.0.0.0/tcp/7475/ws'],
  apiPort: 7373,
  bootstrap: [],
  mdns: true,
  logLevel: 'info',
  logFile: null,
  workers: imagesPerCore(),
  leaseMs: 30_000,
  quorumF: 1,
  criticalBelow: null
}

export const ENV_VARS: Record<ConfigKey, string> = {
  listen: 'TEXMESH_LISTEN',
  apiPort: 'TEXMESH_API_PORT',
  bootstrap: 'TEXMESH_BOOTSTRAP',
  mdns: 'TEXMESH_MDNS',
  logLevel: 'TEXMESH_LOG_LEVEL',
  logFile: 'TEXMESH_LOG_FILE',
  workers: 'TEXMESH_WORKERS',
  leaseMs: 'TEXMESH_LEASE_MS',
  quorumF: 'TEXMESH_QUORUM_F',
  criticalBelow: 'TEXMESH_CRITICAL_BELOW'
}

export interface ResolvedConfig {
  config: NodeConfig
  sources: Record<ConfigKey, ConfigSource>
}

function issuesText (error: z.ZodError): string {
  return error.issues.map(i => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
}

export async function readConfigFile (path: string): Promise<Partial<NodeConfig>> {
  const bytes = await readFileIfExists(path)
  if (bytes == null) return {}
  let json: unknown
  try {
    json = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON: ${(err as Error).message}`)
  }
  const parsed = NodeConfig.partial().safeParse(json)
  if (!parsed.success) throw new ConfigError(`${path}: ${issuesText(parsed.error)}`)
  return parsed.data
}

function parseBoolean (name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true
  if (/^(0|false|no|off)$/i.test(value)) return false
  throw new ConfigError(`${name}=${value}: expected true or false`)
}

function parsePort (name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`${name}=${value}: expected a port number`)
  return Number(value)
}

function parseNumber (name: string, value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${name}=${value}: expected a number`)
  return n
}

function parseList (value: string): string[] {
  return value.split(',').map(s => s.trim()).filter(s => s !== '')
}

export function configFromEnv (env: NodeJS.ProcessEnv): Partial<NodeConfig> {
  const out: Partial<NodeConfig> = {}
  const get = (key: ConfigKey): string | undefined => {
    const v = env[ENV_VARS[key]]
    return v == null || v === '' ? undefined : v
  }
  const listen = get('listen'); if (listen != null) out.listen = parseList(listen)
  const apiPort = get('apiPort'); if (apiPort != null) out.apiPort = parsePort(ENV_VARS.apiPort, apiPort)
  const bootstrap = get('bootstrap'); if (bootstrap != null) out.bootstrap = parseList(bootstrap)
  const mdns = get('mdns'); if (mdns != null) out.mdns = parseBoolean(ENV_VARS.mdns, mdns)
  const logLevel = get('logLevel'); if (logLevel != null) out.logLevel = logLevel as NodeConfig['logLevel']
  const logFile = get('logFile'); if (logFile != null) out.logFile = logFile
  const workers = get('workers'); if (workers != null) out.workers = parseNumber(ENV_VARS.workers, workers)
  const leaseMs = get('leaseMs'); if (leaseMs != null) out.leaseMs = parseNumber(ENV_VARS.leaseMs, leaseMs)
  const quorumF = get('quorumF'); if (quorumF != null) out.quorumF = parseNumber(ENV_VARS.quorumF, quorumF)
  const below = get('criticalBelow'); if (below != null) out.criticalBelow = /^(off|none|null)$/i.test(below) ? null : /^auto$/i.test(below) ? 'auto' : parseNumber(ENV_VARS.criticalBelow, below)
  return out
}

/** Merge the layers and validate the result as a whole. */
export function resolveConfig (layers: { file?: Partial<NodeConfig>, env?: Partial<NodeConfig>, flags?: Partial<NodeConfig> }): ResolvedConfig {
  const config: Record<string, unknown> = { ...DEFAULT_CONFIG }
  const sources = Object.fromEntries(Object.keys(DEFAULT_CONFIG).map(k => [k, 'default'])) as Record<ConfigKey, ConfigSource>
  for (const [source, layer] of [['file', layers.file], ['env', layers.env], ['flag', layers.flags]] as const) {
    for (const [key, value] of Object.entries(layer ?? {})) {
      if (value === undefined) continue
      config[key] = value
      sources[key as ConfigKey] = source
    }
  }
  const parsed = NodeConfig.safeParse(config)
  if (!parsed.success) {
    const where = parsed.error.issues.map(i => {
      const key = i.path[0] as ConfigKey | undefined
      const source = key != null ? sources[key] : undefined
      const origin = source === 'env' && key != null ? ENV_VARS[key] : source === 'flag' ? 'flag' : source === 'file' ? 'config.json' : 'default'
      return `${i.path.join('.') || '(root)'} (from ${origin}): ${i.message}`
    })
    throw new ConfigError(`invalid configuration: ${where.join('; ')}`)
  }
  return { config: parsed.data, sources }
}

/** Defaults, the data dir's config.json, the environment and flags, resolved. */
export async function loadConfig (configPath: string, env: NodeJS.ProcessEnv, flags: Partial<NodeConfig>): Promise<ResolvedConfig> {
  return resolveConfig({ file: await readConfigFile(configPath), env: configFromEnv(env), flags })
}
