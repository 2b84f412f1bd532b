import type { PeerId } from '@libp2p/interface'
import { agentParts, type TexmeshLibp2p } from './libp2p.js'
import type { PeerLoad } from '../../protocols/tasks/index.js'
import { withExpiry } from '../../protocols/membership/index.js'
import { membershipView, type ApiPeer } from './api.js'

/**
 * What the API shows of this node's peers: their addresses, membership and
 * latency, measured here; what they run (identify's agent) and their load
 * (their gossip).
 */

/**
 * Latency per connected peer, in ms. The connection monitor records rtt every 10 s; one ping
 * right after identify fills the gap before that.
 */
export function trackLatency (node: TexmeshLibp2p): Map<string, number> {
  const pinged = new Map<string, number>()
  node.addEventListener('peer:identify', (evt) => {
    const peer = evt.detail.peerId
    node.services.ping.ping(peer, { signal: AbortSignal.timeout(5000) })
      .then(rtt => { if (node.getConnections(peer).length > 0) pinged.set(peer.toString(), rtt) }, () => {})
  })
  node.addEventListener('peer:disconnect', (evt) => { pinged.delete(evt.detail.toString()) })
  return pinged
}

/** Every connected peer, once, with all its connections' addresses. */
export async function peersView (node: TexmeshLibp2p, pinged: ReadonlyMap<string, number>, equivocated: ReadonlySet<string>, loads: ReadonlyMap<string, PeerLoad>): Promise<ApiPeer[]> {
  const byPeer = new Map<string, ApiPeer>()
  const now = Date.now()
  for (const conn of node.getConnections()) {
    const id = conn.remotePeer.toString()
    const entry = byPeer.get(id) ?? { id, addresses: [], latencyMs: pinged.get(id) ?? null, direction: conn.direction, membership: membershipView(withExpiry(node.services.membership.stateOf(conn.remotePeer), Date.now())), equivocated: equivocated.has(id) }
    entry.addresses.push(conn.remoteAddr.toString())
    if (conn.rtt != null) entry.latencyMs = conn.rtt
    if (!byPeer.has(id)) {
      const load = loads.get(id)
      if (load != null) entry.load = { queued: load.queued, running: load.running, capacity: load.capacity, heardS: Math.max(0, Math.round((now - load.at) / 1000)) }
      Object.assign(entry, await agentOf(node, conn.remotePeer))
    }
    byPeer.set(id, entry)
  }
  return [...byPeer.values()].sort((a, b) => a.id.localeCompare(b.id))
}

/** A peer's version and model from its identify agent (the agent itself when it is not a texmesh node's). */
async function agentOf (node: TexmeshLibp2p, peer: PeerId): Promise<Pick<ApiPeer, 'version' | 'model' | 'agent'>> {
  const stored = await node.peerStore.get(peer).catch(() => undefined)
  const raw = stored?.metadata.get('AgentVersion')
  if (raw == null) return {}
  const agent = new TextDecoder().decode(raw).slice(0, 256)
  return agentParts(agent) ?? { agent }
}
