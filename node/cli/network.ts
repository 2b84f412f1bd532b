/** `texmesh network ...` and `texmesh join`: make, share and administer a private campus network. */
import type { Command } from 'commander'
import type { DataDir } from '../datadir/datadir.js'
import { dialableAddresses, preferNonLoopback } from '../daemon/addresses.js'
import { admit, initNetwork, joinNetwork, makeInvite, requireNetwork, revoke, DEFAULT_CERTIFICATE_DAYS } from '../datadir/network-admin.js'
import { encodeCertificateText, encodeRevocationText } from '../../protocols/membership/index.js'
import type { ApiMember, ApiStatus } from '../daemon/api.js'
import { ApiClient } from './client.js'
import { resolvedConfig } from './node.js'
import { collect, dataDirOf, print, table, withDataDir, withJson, type CommonOptions } from './options.js'

/** After a change of network: a node already running on the data dir goes on as it was until restarted. */
async function warnIfRunning (dataDir: DataDir): Promise<void> {
  const running = await dataDir.runtime()
  if (running != null) process.stderr.write(`texmesh: note: the node running on this data dir (pid ${running.pid}) goes on in its old network until you restart it\n`)
}

/** Commands that write invites: only where the node listens matters (its addresses become the invite's bootstrap). */
function withListenFlag (cmd: Command): Command {
  return cmd.option('--listen <multiaddr>', 'the node\'s listen address, for the invite\'s bootstrap addresses; repeatable (default: from config, else /ip4/0.0.0.0/tcp/7474 and /ip4/0.0.0.0/tcp/7475/ws)', collect)
}

export function addNetworkCommands (program: Command): void {
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
}
