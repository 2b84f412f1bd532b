/** `texmesh node`: run the daemon in the foreground; its flags are also a config layer (`config show`). */
import { Option, type Command } from 'commander'
import type { DataDir } from '../datadir/datadir.js'
import { LOG_LEVELS, loadConfig, type NodeConfig, type ResolvedConfig } from '../datadir/config.js'
import { createFileLog, createLog } from '../log.js'
import { startNode } from '../daemon/start.js'
import type { NodeHooks } from '../daemon/hooks.js'
import { collect, dataDirOf, parseCount, parsePort, parsePositive, parseProbability, withDataDir } from './options.js'

/** Flags given on the command line (not commander defaults) as a config layer. */
export function configFlags (cmd: Command): Partial<NodeConfig> {
  const o = cmd.opts()
  const flags: Partial<NodeConfig> = {}
  if (o.listen != null) flags.listen = o.listen
  if (o.bootstrap != null) flags.bootstrap = o.bootstrap
  if (o.apiPort != null) flags.apiPort = o.apiPort
  if (cmd.getOptionValueSource('mdns') === 'cli') flags.mdns = o.mdns as boolean
  if (o.logLevel != null) flags.logLevel = o.logLevel
  if (o.logFile != null) flags.logFile = o.logFile
  if (o.workers != null) flags.workers = o.workers
  if (o.leaseMs != null) flags.leaseMs = o.leaseMs
  if (o.quorumF != null) flags.quorumF = o.quorumF
  if (o.criticalBelow != null) flags.criticalBelow = o.criticalBelow
  return flags
}

export function withNodeFlags (cmd: Command): Command {
  return cmd
    .option('--listen <multiaddr>', 'libp2p listen address, repeatable (default: /ip4/0.0.0.0/tcp/7474 and /ip4/0.0.0.0/tcp/7475/ws)', collect)
    .option('--api-port <port>', 'local HTTP API port on 127.0.0.1 (default: 7373; 0 picks a free one)', parsePort)
    .option('--bootstrap <multiaddr>', 'peer to dial at start and keep redialling, with /p2p/ID; repeatable', collect)
    .option('--no-mdns', 'do not look for peers on the LAN with multicast DNS')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS))
    .option('--log-file <path>', 'write the log to this file (JSON lines, rotated at 10 MB, 5 kept) instead of stderr, for a node run in the background')
    .option('--workers <n>', 'images this node recognises at once, for itself and others (default: one per core, at most 8; 0 takes no work)', parseCount('--workers', 64))
    .option('--lease-ms <ms>', 'how long a worker may hold a task before it is granted again (default 30000)', parsePositive('--lease-ms', 3_600_000))
    .option('--quorum-f <f>', 'faults a critical image tolerates: 3f+1 voters, 2f+1 must agree (default 1)', parsePositive('--quorum-f', 10))
    .option('--critical-below <p>', 'send results less confident than this (0-1) to a quorum vote, or "auto": below the confidence from which the network\'s reviews say answers are right 95 % of the time (default: never)', (v: string) => /^auto$/i.test(v) ? 'auto' : parseProbability('--critical-below')(v))
}

export async function resolvedConfig (cmd: Command, dataDir: DataDir): Promise<ResolvedConfig> {
  return await loadConfig(dataDir.paths.config, process.env, configFlags(cmd))
}

/**
 * How a harness starts its nodes through the `node` command (simnet/node-main.ts): options of
 * its own, and the hooks (node/daemon/hooks.ts) it makes of them.
 */
export interface NodeCommandExtension {
  options: (cmd: Command) => Command
  hooks: (options: Record<string, unknown>, config: NodeConfig) => NodeHooks | Promise<NodeHooks>
}

async function runNode (cmd: Command, extension?: NodeCommandExtension): Promise<void> {
  const dataDir = dataDirOf(cmd.opts())
  const { config, sources } = await resolvedConfig(cmd, dataDir)
  const log = config.logFile != null ? await createFileLog(config.logLevel, config.logFile) : createLog(config.logLevel)
  const hooks = extension != null ? await extension.hooks(cmd.opts(), config) : undefined
  const node = await startNode({ dataDir: dataDir.paths.root, config, log, sources, ...(hooks != null ? { hooks } : {}) })
  const status = await node.status()
  process.stderr.write(`texmesh node ${status.peerId} running; network ${status.network.name ?? 'open'}; API http://127.0.0.1:${node.apiPort}\n`)
  const reachable = config.listen.some(a => !/^\/ip[46]\/(127\.|::1\/)/.test(a))
  if (!status.network.private && (reachable || config.mdns)) {
    // Said once, at start: an open node on a LAN takes whoever comes.
    process.stderr.write('texmesh: note: this node is in an open network: any host that reaches it' +
      `${config.mdns ? ' (mDNS finds it on the LAN)' : ''} can join, read what the network has read, and be handed work. ` +
      'For a campus network with members only: texmesh network init --name NAME (then texmesh join on the other nodes)\n')
  }

  let signals = 0
  const onSignal = (signal: string): void => {
    signals++
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting without a clean shutdown')
      process.exit(130)
    }
    log.info({ signal }, 'shutting down (send the signal again to force)')
    node.stop().then(() => process.exit(0), (err) => {
      log.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}

/** The `node` command; `extension` adds a harness's options and the hooks it makes of them. */
export function addNodeCommand (program: Command, extension?: NodeCommandExtension): void {
  const node = withNodeFlags(withDataDir(program.command('node')))
    .description('run the node daemon in the foreground (Ctrl-C stops it)')
    .action(async (_opts, cmd: Command) => { await runNode(cmd, extension) })
  extension?.options(node)
}
