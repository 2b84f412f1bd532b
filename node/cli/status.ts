/** `texmesh status` and `texmesh peers`: the running node as its API describes it. */
import type { Command } from 'commander'
import type { ApiPeer, ApiStatus } from '../daemon/api.js'
import { ApiClient } from './client.js'
import { printable } from './terminal.js'
import { dataDirOf, print, table, withDataDir, withJson, type CommonOptions } from './options.js'

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
    ...(s.store != null ? [`store     ${s.store.results} results and ${s.store.corrections} corrections held`] : []),
    ...(s.memory != null
      ? [`memory    ${s.memory.failed != null ? `could not be built (${s.memory.failed}): search is not available until a restart` : s.memory.loading ? 'still being built from the store (search answers when it is done)' : `${s.memory.formulas} formulas${s.memory.behind > 0 ? `; ${s.memory.behind} store changes still to take in` : ''}`}`]
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

function formatPeers (peers: ApiPeer[]): string {
  if (peers.length === 0) return 'no peers connected'
  const rows = peers.map(p => [
    p.id,
    describeMembership(p.membership) + (p.equivocated === true ? ' EQUIVOCATED' : ''),
    p.latencyMs == null ? '-' : `${p.latencyMs} ms`,
    p.load == null ? '-' : `${p.load.running}/${p.load.capacity} busy, ${p.load.queued} queued`,
    printable(p.model ?? p.agent ?? '-'),
    p.addresses[0] ?? '-'
  ])
  return table(['peer', 'membership', 'latency', 'load', 'model', 'address'], rows)
}

export function addStatusCommands (program: Command): void {
  withJson(withDataDir(program.command('status')))
    .description('show the running node: peer id, addresses, network, peer count')
    .action(async (opts: CommonOptions) => {
      const status = await (await ApiClient.forDataDir(dataDirOf(opts))).get<ApiStatus>('/v1/status')
      print(opts.json, status, () => formatStatus(status))
    })

  withJson(withDataDir(program.command('peers')))
    .description('list connected peers: membership, latency, load (busy/total workers, queued tasks), model and address')
    .action(async (opts: CommonOptions) => {
      const peers = await (await ApiClient.forDataDir(dataDirOf(opts))).get<ApiPeer[]>('/v1/peers')
      print(opts.json, peers, () => formatPeers(peers))
    })
}
