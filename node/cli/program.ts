/**
 * The `texmesh` command. Every subcommand but ocr and simnet takes --data-dir;
 * those whose output is data take --json. Errors, usage errors included, print
 * one line on stderr and exit non-zero.
 */
import { Command, Option } from 'commander'
import type { DataDir } from '../datadir/datadir.js'
import { ENV_VARS, LOG_LEVELS, loadConfig, type NodeConfig, type ResolvedConfig } from '../datadir/config.js'
import { createLog } from '../log.js'
import { startNode } from '../daemon/start.js'
import { ApiClient } from './client.js'
import { ConfigError, TexmeshError } from '../errors.js'
import { ModelFileError } from '../../pipeline/model-error.js'
import { dialableAddresses, preferNonLoopback } from '../daemon/addresses.js'
import { admit, initNetwork, joinNetwork, makeInvite, requireNetwork, revoke, DEFAULT_CERTIFICATE_DAYS } from '../datadir/network-admin.js'
import { encodeCertificateText, encodeRevocationText } from '../../protocols/membership/index.js'
import type { ApiMember, ApiPeer, ApiStatus } from '../daemon/api.js'
import { VERSION } from '../version.js'
import { runOcr } from './ocr.js'
import { DEFAULT_WAIT_SECONDS, runResult, runSubmit, runTasks } from './tasks.js'
import { describeCheck, runVerify } from './verify.js'
import type { NodeHooks } from '../daemon/hooks.js'
import { collect, dataDirOf, parseCount, parsePort, parsePositive, parseProbability, print, withDataDir, withJson, type CommonOptions } from './options.js'

/** After a change of network: a node already running on the data dir goes on as it was until restarted. */
async function warnIfRunning (dataDir: DataDir): Promise<void> {
  const running = await dataDir.runtime()
  if (running != null) process.stderr.write(`texmesh: note: the node running on this data dir (pid ${running.pid}) goes on in its old network until you restart it\n`)
}

/** Flags given on the command line (not commander defaults) as a config layer. */
function configFlags (cmd: Command): Partial<NodeConfig> {
  const o = cmd.opts()
  const flags: Partial<NodeConfig> = {}
  if (o.listen != null) flags.listen = o.listen
  if (o.bootstrap != null) flags.bootstrap = o.bootstrap
  if (o.apiPort != null) flags.apiPort = o.apiPort
  if (cmd.getOptionValueSource('mdns') === 'cli') flags.mdns = o.mdns as boolean
  if (o.logLevel != null) flags.logLevel = o.logLevel
  if (o.workers != null) flags.workers = o.workers
  if (o.leaseMs != null) flags.leaseMs = o.leaseMs
  if (o.quorumF != null) flags.quorumF = o.quorumF
  if (o.criticalBelow != null) flags.criticalBelow = o.criticalBelow
  return flags
}

/** Commands that write invites: only where the node listens matters (its addresses become the invite's bootstrap). */
function withListenFlag (cmd: Command): Command {
  return cmd.option('--listen <multiaddr>', 'the node\'s listen address, for the invite\'s bootstrap addresses; repeatable (default: from config, else /ip4/0.0.0.0/tcp/7474 and /ip4/0.0.0.0/tcp/7475/ws)', collect)
}

function withNodeFlags (cmd: Command): Command {
  return cmd
    .option('--listen <multiaddr>', 'libp2p listen address, repeatable (default: /ip4/0.0.0.0/tcp/7474 and /ip4/0.0.0.0/tcp/7475/ws)', collect)
    .option('--api-port <port>', 'local HTTP API port on 127.0.0.1 (default: 7373; 0 picks a free one)', parsePort)
    .option('--bootstrap <multiaddr>', 'peer to dial at start and keep redialling, with /p2p/ID; repeatable', collect)
    .option('--no-mdns', 'do not look for peers on the LAN with multicast DNS')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS))
    .option('--workers <n>', 'images this node recognises at once, for itself and others (default: one per core, at most 8; 0 takes no work)', parseCount('--workers', 64))
    .option('--lease-ms <ms>', 'how long a worker may hold a task before it is granted again (default 30000)', parsePositive('--lease-ms', 3_600_000))
    .option('--quorum-f <f>', 'faults a critical image tolerates: 3f+1 voters, 2f+1 must agree (default 1)', parsePositive('--quorum-f', 10))
    .option('--critical-below <p>', 'send results less confident than this (0-1) to a quorum vote (default: never)', parseProbability('--critical-below'))
}

async function resolvedConfig (cmd: Command, dataDir: DataDir): Promise<ResolvedConfig> {
  return await loadConfig(dataDir.paths.config, process.env, configFlags(cmd))
}

function formatStatus (s: ApiStatus): string {
  const net = s.network.private
    ? `${s.network.name} (private; membership: ${describeMembership(s.network.membership)})`
    : 'open (no network key; run texmesh network init or texmesh join)'
  return [
    `peer id   ${s.peerId}`,
    `network   ${net}`,
    `peers     ${s.peers}`,
    `uptime    ${s.uptimeS}s`,
    ...(s.model != null ? [`model     ${s.model}`] : []),
    ...(s.tasks != null
      ? [`tasks     ${s.tasks.queued} queued, ${s.tasks.leased} leased, ${s.tasks.done} done, ${s.tasks.failedTasks} failed; ${s.tasks.regrants} leases granted again`,
      `workers   ${s.tasks.running}/${s.tasks.capacity} busy; ${s.tasks.processed} images read here (${s.tasks.stolen} for other nodes)`]
      : []),
    `data dir  ${s.dataDir}`,
    ...(s.quarantined != null && s.quarantined.length > 0
      ? [`quarantined store updates: ${s.quarantined.length} (set aside at start-up; see texmesh status --json)`,
          ...s.quarantined.slice(-5).map(q => `  ${q.time} ${q.author ?? 'unknown author'}: ${q.reason.slice(0, 120)}`)]
      : []),
    'addresses',
    ...s.addresses.map(a => `  ${a}`)
  ].join('\n')
}

function describeMembership (m: unknown): string {
  const v = m as { state?: string, reason?: string, expiresAt?: string } | undefined
  if (v?.state == null) return '-'
  if (v.state === 'member' && v.expiresAt != null) return `member until ${new Date(v.expiresAt).toISOString().slice(0, 10)}`
  if (v.state === 'refused') return `refused (${v.reason ?? '?'})`
  return v.state
}

/** Rows under a header, in columns as wide as their widest cell. */
function table (header: string[], rows: string[][]): string {
  const head = header.map(h => h.toUpperCase())
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)))
  return [head, ...rows].map(r => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}

function formatPeers (peers: ApiPeer[]): string {
  if (peers.length === 0) return 'no peers connected'
  const rows = peers.map(p => [p.id, describeMembership(p.membership) + (p.equivocated === true ? ' EQUIVOCATED' : ''), p.latencyMs == null ? '-' : `${p.latencyMs} ms`, p.addresses[0] ?? '-'])
  return table(['peer', 'membership', 'latency', 'address'], rows)
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
  const log = createLog(config.logLevel)
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

/** The `texmesh` program; `extension` adds a harness's options and hooks to its `node` command. */
export function buildProgram (extension?: NodeCommandExtension): Command {
  const program = new Command()
  program
    .name('texmesh')
    .description('A peer-to-peer network of nodes that turn images of printed mathematics into LaTeX.')
    .version(VERSION)
    .addHelpText('after', `
Environment:
  TEXMESH_HOME       data directory (default ~/.texmesh)
  ${Object.values(ENV_VARS).join(', ')}
                     node settings; flags win over these, these over <data-dir>/config.json`)

  const node = withNodeFlags(withDataDir(program.command('node')))
    .description('run the node daemon in the foreground (Ctrl-C stops it)')
    .action(async (_opts, cmd: Command) => { await runNode(cmd, extension) })
  extension?.options(node)

  withJson(withDataDir(program.command('status')))
    .description('show the running node: peer id, addresses, network, peer count')
    .action(async (opts: CommonOptions) => {
      const status = await (await ApiClient.forDataDir(dataDirOf(opts))).get<ApiStatus>('/v1/status')
      print(opts.json, status, () => formatStatus(status))
    })

  withJson(withDataDir(program.command('peers')))
    .description('list connected peers with address, latency and membership')
    .action(async (opts: CommonOptions) => {
      const peers = await (await ApiClient.forDataDir(dataDirOf(opts))).get<ApiPeer[]>('/v1/peers')
      print(opts.json, peers, () => formatPeers(peers))
    })

  withJson(program.command('ocr'))
    .description('recognise images of formulas on this machine (no daemon or network needed)')
    .argument('<file-or-dir...>', 'images (PNG, JPEG, WebP, TIFF, GIF) or directories of them')
    .option('--beam <n>', 'beam width (default 5; 1 is greedy)', parsePositive('--beam', 32))
    .option('--jobs <n>', 'images recognised at once (default: one per core, at most 8)', parsePositive('--jobs', 64))
    .option('--threads <n>', 'onnxruntime threads per image (default 1: faster for this model than splitting one image)', parsePositive('--threads', 256))
    .option('--model <dir>', 'model folder (default: the shipped model)')
    .option('--min-confidence <p>', 'an answer less confident than this (0-1) is a miss: marked, and the exit code is 1', parseProbability('--min-confidence'))
    .addHelpText('after', `
With --json, one JSON object per image and line:
  {"file", "latex", "confidence", "alternatives": [{"latex", "score"}],
   "regions": [{"bbox": {"x", "y", "width", "height"}, "latex", "confidence", ...}], "model", "ms"}
(with "rotated": 90 or 270 when read turned, "unreadable": {"reason": "array" | "text", "detail"}
when the image is a matrix or prose, which the model cannot read (confidence 0), and
"belowMinConfidence": true for a miss) and for a file that failed {"file", "error", "reason"}.
"score" is a log-probability; "confidence" is calibrated: about that share of such answers is right.
The exit code is 1 if any file failed, was not a formula the model can read, or gave an answer below
--min-confidence; every file is still processed.`)
    .action(async (inputs: string[], opts: { json?: boolean, beam?: number, threads?: number, jobs?: number, model?: string, minConfidence?: number }) => {
      const { failed, unreadable, below, total } = await runOcr(inputs, opts)
      if (failed > 0 || unreadable > 0 || below > 0) {
        if (opts.json !== true) {
          if (failed > 0) process.stderr.write(`texmesh: ${failed} of ${total} files failed\n`)
          if (unreadable > 0) process.stderr.write(`texmesh: ${unreadable} of ${total} images are not formulas this model can read\n`)
          if (below > 0) process.stderr.write(`texmesh: ${below} of ${total} answers below --min-confidence ${opts.minConfidence!}\n`)
        }
        process.exitCode = 1
      }
    })

  withJson(withDataDir(program.command('submit')))
    .description("hand images to the running node's network; each gets a task id")
    .argument('<file-or-dir...>', 'images (PNG, JPEG, WebP, TIFF, GIF) or directories of them')
    .option('--critical', 'mark the images critical (several nodes must agree; see the README)')
    .option('--wait', 'wait for every result (a progress bar on a terminal), then print them in input order')
    .option('--timeout <seconds>', `with --wait, give up after this long (default ${DEFAULT_WAIT_SECONDS})`, parsePositive('--timeout', 86_400))
    .addHelpText('after', `
An image that the network has already read (same bytes, same model) is answered at once.
With --json, one JSON object per image and line: {"file", "id", "state", "hash", "critical"}
and, once known, the result in the shape texmesh ocr --json uses ("latex", "confidence",
"alternatives", "regions", "model", "ms") and "by" (the peer that read it).
A file that could not be submitted gives {"file", "error", "reason"}. The exit code is 1 if any failed.`)
    .action(async (inputs: string[], opts: CommonOptions & { critical?: boolean, wait?: boolean, timeout?: number }) => {
      const client = await ApiClient.forDataDir(dataDirOf(opts))
      const { failed, total } = await runSubmit(client, inputs, opts)
      if (failed > 0) {
        if (opts.json !== true) process.stderr.write(`texmesh: ${failed} of ${total} images failed\n`)
        process.exitCode = 1
      }
    })

  withJson(withDataDir(program.command('result')))
    .description('show a submitted task and its result')
    .argument('<id>', 'the task id texmesh submit printed')
    .option('--wait', 'wait until the task has finished')
    .option('--timeout <seconds>', `with --wait, give up after this long (default ${DEFAULT_WAIT_SECONDS})`, parsePositive('--timeout', 86_400))
    .action(async (id: string, opts: CommonOptions & { wait?: boolean, timeout?: number }) => {
      const task = await runResult(await ApiClient.forDataDir(dataDirOf(opts)), id, opts)
      if (task.state === 'failed' || task.state === 'no-consensus') process.exitCode = 1
    })

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

  withJson(withDataDir(program.command('tasks')))
    .description('list the tasks submitted to the running node, newest first')
    .option('--limit <n>', 'how many (default 50)', parsePositive('--limit', 10_000))
    .action(async (opts: CommonOptions & { limit?: number }) => {
      await runTasks(await ApiClient.forDataDir(dataDirOf(opts)), opts)
    })

  const config = program.command('config').description('node configuration')
  withNodeFlags(withJson(withDataDir(config.command('show'))))
    .description('print the effective configuration and where each value comes from (default, file, env, flag): the running node\'s, or what a new start would use')
    .action(async (opts: CommonOptions, cmd: Command) => {
      const dataDir = dataDirOf(opts)
      const running = await dataDir.runtime()
      const flagsGiven = Object.keys(configFlags(cmd)).length > 0
      // A node running on this data dir: what it actually uses (its flags included), unless flags ask what a new start would do.
      const resolved = running?.config != null && !flagsGiven
        ? { config: running.config as unknown as NodeConfig, sources: (running.sources ?? {}) as Record<keyof NodeConfig, string> }
        : await resolvedConfig(cmd, dataDir)
      if (running != null && opts.json !== true) {
        process.stderr.write(running.config != null && !flagsGiven
          ? `texmesh: the node running on this data dir (pid ${running.pid}) uses this configuration; changes take effect when it restarts\n`
          : `texmesh: a node runs on this data dir (pid ${running.pid}); this is what a new start would use\n`)
      }
      const network = await dataDir.network()
      const data = { dataDir: dataDir.paths.root, configFile: dataDir.paths.config, ...resolved, network: network?.name ?? null }
      const shown = Object.entries(resolved.config)
      const rows: Array<[string, string]> = [['data dir', data.dataDir], ['config file', data.configFile], ['network', data.network ?? 'open'],
        ...shown.map(([k, v]): [string, string] => [k, `${JSON.stringify(v)}  (${resolved.sources[k as keyof NodeConfig]})`])]
      const width = Math.max(...rows.map(([k]) => k.length)) + 2
      print(opts.json, data, () => rows.map(([k, v]) => k.padEnd(width) + v).join('\n'))
    })

  const network = program.command('network').description('make, share and administer a private campus network')

  withListenFlag(withJson(withDataDir(network.command('init'))))
    .description('make a network: a pre-shared key and an admin key; print its invite')
    .requiredOption('--name <name>', 'network name (letters, digits, ".", "_", "-")')
    .option('--days <n>', `validity of this node's own membership certificate (default ${DEFAULT_CERTIFICATE_DAYS})`, Number)
    .action(async (opts: CommonOptions & { name: string, days?: number }, cmd: Command) => {
      const dataDir = dataDirOf(opts)
      const { config } = await resolvedConfig(cmd, dataDir)
      const { peerId } = await dataDir.identity()
      // A node running on this data dir: the addresses it really listens on, as network invite takes them.
      const runtime = await dataDir.runtime()
      const addresses = runtime != null
        ? preferNonLoopback((await (await ApiClient.forDataDir(dataDir)).get<ApiStatus>('/v1/status')).addresses)
        : dialableAddresses(config.listen, peerId.toString())
      const result = await initNetwork(dataDir, opts.name, addresses, opts.days)
      print(opts.json, { invite: result.invite, network: result.network.name, peerId: result.peerId, admin: result.network.admin, bootstrap: result.network.bootstrap }, () => [
        `made network "${result.network.name}"; the admin key is ${dataDir.paths.adminKey} (keep it safe: it admits members)`,
        `this node (${result.peerId}) is its first member`,
        '',
        'invite (give it to new nodes: texmesh join INVITE):',
        result.invite
      ].join('\n'))
      await warnIfRunning(dataDir)
    })

  withListenFlag(withJson(withDataDir(network.command('invite'))))
    .description("print an invite with this node's addresses as bootstrap")
    .action(async (opts: CommonOptions, cmd: Command) => {
      const dataDir = dataDirOf(opts)
      await requireNetwork(dataDir)
      let addresses: string[]
      const runtime = await dataDir.runtime()
      if (runtime != null) {
        const status = await (await ApiClient.forDataDir(dataDir)).get<ApiStatus>('/v1/status')
        addresses = preferNonLoopback(status.addresses)
      } else {
        const { config } = await resolvedConfig(cmd, dataDir)
        addresses = dialableAddresses(config.listen, (await dataDir.identity()).peerId.toString())
      }
      const { invite, network: net } = await makeInvite(dataDir, addresses)
      print(opts.json, { invite, network: net.name, bootstrap: net.bootstrap }, () => invite)
    })

  withJson(withDataDir(network.command('admit')))
    .description('sign a membership certificate for a peer (run where the admin key is)')
    .argument('<peer-id>', 'the new member\'s peer id (texmesh join prints it)')
    .option('--days <n>', `how long the certificate is valid (default ${DEFAULT_CERTIFICATE_DAYS})`, Number)
    .action(async (peer: string, opts: CommonOptions & { days?: number }) => {
      const dataDir = dataDirOf(opts)
      const cert = await admit(dataDir, peer, opts.days)
      const text = encodeCertificateText(cert)
      // The certificate alone on stdout, the words on stderr: install-cert "$(texmesh network admit ID)" works.
      if (opts.json !== true) {
        process.stderr.write(`certificate for ${cert.peer} in "${cert.network}", valid until ${new Date(cert.expiresAt).toISOString()}\n` +
          'on that node run: texmesh network install-cert CERTIFICATE\n')
      }
      print(opts.json, { certificate: text, peer: cert.peer, network: cert.network, expiresAt: new Date(cert.expiresAt).toISOString() }, () => text)
    })

  withJson(withDataDir(network.command('revoke')))
    .description('revoke a member (run where the admin key is): from now on nodes refuse it leases, ballots and store writes, and certificates do not count its later votes')
    .argument('<peer-id>', 'the member\'s peer id (texmesh network members lists them)')
    .action(async (peer: string, opts: CommonOptions) => {
      const dataDir = dataDirOf(opts)
      const revocation = await revoke(dataDir, peer)
      const text = encodeRevocationText(revocation)
      // A node running here publishes it at once; otherwise it does when it starts (the data dir keeps it).
      const runtime = await dataDir.runtime()
      if (runtime != null) await (await ApiClient.forDataDir(dataDir)).post('/v1/membership/revocations', { revocation: text })
      if (opts.json !== true) {
        process.stderr.write(`revoked ${revocation.peer} in "${revocation.network}" as of ${new Date(revocation.revokedAt).toISOString()}; ` +
          (runtime != null ? 'the running node publishes it now\n' : 'the node publishes it when it starts (or give the text to any member: POST /v1/membership/revocations)\n'))
      }
      print(opts.json, { revocation: text, peer: revocation.peer, network: revocation.network, revokedAt: new Date(revocation.revokedAt).toISOString(), published: runtime != null }, () => text)
    })

  withJson(withDataDir(network.command('members')))
    .description('list the members the running node knows of (from the replicated store), with their certificates\' validity')
    .action(async (opts: CommonOptions) => {
      const dataDir = dataDirOf(opts)
      await requireNetwork(dataDir)
      const members = await (await ApiClient.forDataDir(dataDir)).get<ApiMember[]>('/v1/members')
      print(opts.json, members, () => members.length === 0
        ? 'no members known yet (a member is listed once its certificate is in the replicated store)'
        : table(['peer', 'until', 'certificate', 'online', ''], members.map(m => [m.peer, m.expiresAt.slice(0, 10), m.revokedAt != null ? `REVOKED ${m.revokedAt.slice(0, 19)}` : m.valid ? 'valid' : 'EXPIRED', m.connected ? 'yes' : 'no', m.equivocated ? 'EQUIVOCATED' : ''])))
    })

  withJson(withDataDir(network.command('install-cert')))
    .description('install this node\'s membership certificate (from texmesh network admit); a running node uses it at once')
    .argument('<certificate>', 'the texmesh-cert-v1:... text')
    .action(async (text: string, opts: CommonOptions) => {
      const dataDir = dataDirOf(opts)
      const runtime = await dataDir.runtime()
      const cert = runtime != null
        ? await (await ApiClient.forDataDir(dataDir)).post<{ peer: string, network: string, expiresAt: string }>('/v1/membership/certificate', { certificate: text })
        : await dataDir.installCertificate(text)
      print(opts.json, { peer: cert.peer, network: cert.network, expiresAt: new Date(cert.expiresAt).toISOString(), live: runtime != null }, () =>
        `installed: member of "${cert.network}" until ${new Date(cert.expiresAt).toISOString()}${runtime != null ? ' (the running node presents it now)' : ''}`)
    })

  withJson(withDataDir(program.command('join')))
    .description('set up this data dir from an invite; then only nodes with the same network key can talk to it')
    .argument('<invite>', 'the texmesh-invite-v1:... text from texmesh network init or invite')
    .action(async (invite: string, opts: CommonOptions) => {
      const dataDir = dataDirOf(opts)
      const result = await joinNetwork(dataDir, invite)
      print(opts.json, { network: result.network.name, peerId: result.peerId, joined: result.joined, bootstrap: result.network.bootstrap }, () => [
        result.joined ? `joined network "${result.network.name}"` : `already in network "${result.network.name}"; bootstrap addresses updated`,
        `this node's peer id: ${result.peerId}`,
        'to count as a member, ask the network admin to run:',
        `  texmesh network admit ${result.peerId}`,
        'then install the certificate they give you with: texmesh network install-cert CERTIFICATE',
        'start the node with: texmesh node'
      ].join('\n'))
      await warnIfRunning(dataDir)
    })

  return program
}

/**
 * Usage errors (an unknown option, a missing argument) in one line like every other error,
 * with the command whose --help says more, instead of commander's "error: ..." and the whole help.
 */
function oneLineUsageErrors (cmd: Command): void {
  const names: string[] = []
  for (let c: Command | null = cmd; c != null; c = c.parent) names.unshift(c.name())
  cmd.configureOutput({ outputError: (str, write) => { write(`texmesh: ${str.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (see ${names.join(' ')} --help)\n`) } })
  for (const sub of cmd.commands) oneLineUsageErrors(sub)
}

/** Run a program on this process's arguments: errors as one line on stderr, and the exit code. */
export async function runProgram (program: Command): Promise<void> {
  oneLineUsageErrors(program)
  program.exitOverride()
  try {
    await program.parseAsync(process.argv)
  } catch (err: any) {
    if (typeof err?.code === 'string' && err.code.startsWith('commander.')) {
      process.exit(err.exitCode ?? 2)
    }
    // A model folder that cannot be used is the user's to fix, not a bug: its message says what.
    if (err instanceof TexmeshError || err instanceof ModelFileError) {
      process.stderr.write(`texmesh: ${err.message}\n`)
      process.exit(1)
    }
    process.stderr.write(`texmesh: unexpected error: ${err?.stack ?? String(err)}\n`)
    process.exit(1)
  }
}
