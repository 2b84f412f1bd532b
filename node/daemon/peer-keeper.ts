import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, PeerId, PeerInfo } from '@libp2p/interface'
import type { Log } from '../log.js'

/**
 * libp2p 3 has no auto-dialler: this dials every discovered peer (mDNS,
 * bootstrap, peer exchange) and redials
 * lost ones with exponential backoff and jitter. Bootstrap peers are redialled
 * for as long as the node runs (the delay capped at `maxBackoffMs`); peers found
 * on the LAN get `maxAttempts` tries, after which mDNS finding them again starts over.
 */
export interface PeerKeeperInit {
  /** bootstrap multiaddrs with /p2p/ peer ids */
  bootstrap: string[]
  /** the random source (simnet seeds it, so a run replays) @default Math.random */
  random?: () => number
  /** @default 1000 */
  minBackoffMs?: number
  /** @default 60000 */
  maxBackoffMs?: number
  /** @default 8 */
  maxAttempts?: number
  /** @default 10000 */
  dialTimeoutMs?: number
}

/** failed dials in a row to a bootstrap peer before the node says so at warn level */
const BOOTSTRAP_WARN_AFTER = 3

/** peers tracked besides bootstrap ones; past this, peers we gave up on are forgotten first */
const MAX_TRACKED_PEERS = 512

interface Wanted {
  bootstrap: boolean
  /** addresses learnt by peer exchange, with /p2p/ID; dialled directly so the persistent peer store only holds what libp2p itself verified */
  addrs: Multiaddr[]
  attempts: number
  timer?: NodeJS.Timeout
  /** no dial before this time (ms since the epoch), so rediscovery does not bypass the backoff */
  notBefore: number
}

/** Addresses ending in /p2p/PEER, so a dial reaches that peer and no other. */
function withPeerId (addrs: Multiaddr[], peer: string): Multiaddr[] {
  return addrs.map(a => a.getComponents().some(c => c.name === 'p2p') ? a : a.encapsulate(`/p2p/${peer}`))
}

export class PeerKeeper {
  private readonly wanted = new Map<string, Wanted>()
  private readonly minBackoffMs: number
  private readonly maxBackoffMs: number
  private readonly maxAttempts: number
  private readonly dialTimeoutMs: number
  private readonly bootstrapPeers = new Map<string, string[]>()
  private running = false
  private readonly random: () => number

  constructor (private readonly libp2p: Libp2p, init: PeerKeeperInit, private readonly log: Log) {
    this.random = init.random ?? Math.random
    this.minBackoffMs = init.minBackoffMs ?? 1000
    this.maxBackoffMs = init.maxBackoffMs ?? 60_000
    this.maxAttempts = init.maxAttempts ?? 8
    this.dialTimeoutMs = init.dialTimeoutMs ?? 10_000
    for (const addr of init.bootstrap) {
      const peer = multiaddr(addr).getComponents().findLast(c => c.name === 'p2p')?.value
      if (peer == null) continue
      this.bootstrapPeers.set(peer, [...(this.bootstrapPeers.get(peer) ?? []), addr])
    }
    this.onDiscovery = this.onDiscovery.bind(this)
    this.onConnect = this.onConnect.bind(this)
    this.onDisconnect = this.onDisconnect.bind(this)
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.libp2p.addEventListener('peer:discovery', this.onDiscovery)
    this.libp2p.addEventListener('peer:connect', this.onConnect)
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    for (const peer of this.bootstrapPeers.keys()) {
      if (peer === this.libp2p.peerId.toString()) continue
      this.entry(peer, true)
      this.schedule(peer, 0)
    }
    // peers discovered while libp2p was starting
    for (const [peer, w] of this.wanted) {
      if (w.timer == null && !this.connected(peerIdFromString(peer))) this.schedule(peer, 0)
    }
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    this.libp2p.removeEventListener('peer:connect', this.onConnect)
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const w of this.wanted.values()) clearTimeout(w.timer)
    this.wanted.clear()
  }

  /**
   * Peers learnt another way (peer exchange, the peer store of the last run):
   * dial them like discovered ones. Offered before start(), they are dialled
   * once the keeper starts.
   */
  offer (peers: Array<{ id: PeerId, addrs: Multiaddr[] }>): void {
    for (const { id, addrs } of peers) {
      if (id.equals(this.libp2p.peerId) || this.connected(id)) continue
      const w = this.entry(id.toString())
      if (w == null) return
      w.addrs = withPeerId(addrs, id.toString())
      if (this.running && w.timer == null) this.schedule(id.toString(), Math.max(0, w.notBefore - Date.now()))
    }
  }

  /** The entry for a peer, made if there is room; undefined when the table is full of live entries. */
  private entry (peer: string, bootstrap = false): Wanted | undefined {
    let w = this.wanted.get(peer)
    if (w == null) {
      if (!bootstrap && this.wanted.size >= MAX_TRACKED_PEERS + this.bootstrapPeers.size && !this.prune()) return undefined
      w = { bootstrap, addrs: [], attempts: 0, notBefore: 0 }
      this.wanted.set(peer, w)
    }
    w.bootstrap ||= bootstrap
    return w
  }

  /** Forget non-bootstrap peers that are neither connected nor about to be dialled. */
  private prune (): boolean {
    const before = this.wanted.size
    for (const [peer, w] of this.wanted) {
      if (w.bootstrap || w.timer != null || this.libp2p.getConnections(peerIdFromString(peer)).length > 0) continue
      this.wanted.delete(peer)
    }
    return this.wanted.size < before
  }

  /**
   * A peer seen by a discovery mechanism (each mDNS answer, not only the first):
   * dialled at its announced addresses unless connected or backing off. Seen
   * before start(), it is dialled once the keeper starts.
   */
  discovered (info: PeerInfo): void {
    const peer = info.id.toString()
    if (peer === this.libp2p.peerId.toString()) return
    const w = this.entry(peer)
    if (w == null) return
    if (info.multiaddrs.length > 0) w.addrs = withPeerId(info.multiaddrs, peer)
    if (this.running && w.timer == null && !this.connected(info.id)) this.schedule(peer, Math.max(0, w.notBefore - Date.now()))
  }

  private onDiscovery (evt: CustomEvent<PeerInfo>): void {
    this.discovered(evt.detail)
  }

  private onConnect (evt: CustomEvent<PeerId>): void {
    // Only peers we went looking for are kept; one that dialled us redials us itself.
    const w = this.wanted.get(evt.detail.toString())
    if (w == null) return
    clearTimeout(w.timer)
    w.timer = undefined
    w.attempts = 0
    w.notBefore = 0
  }

  private onDisconnect (evt: CustomEvent<PeerId>): void {
    const peer = evt.detail.toString()
    const w = this.wanted.get(peer)
    if (w == null || !this.running) return
    this.log.info({ peer }, 'peer disconnected, will redial')
    this.schedule(peer, this.backoff(0))
  }

  private connected (peer: PeerId): boolean {
    return this.libp2p.getConnections(peer).length > 0
  }

  private backoff (attempts: number): number {
    const base = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** attempts)
    return Math.round(base * (0.75 + this.random() * 0.5))
  }

  private schedule (peer: string, delayMs: number): void {
    const w = this.wanted.get(peer)
    if (w == null || !this.running) return
    clearTimeout(w.timer)
    w.notBefore = Date.now() + delayMs
    w.timer = setTimeout(() => { void this.dial(peer) }, delayMs)
    w.timer.unref()
  }

  private async dial (peer: string): Promise<void> {
    const w = this.wanted.get(peer)
    if (w == null || !this.running) return
    w.timer = undefined
    try {
      const peerId = peerIdFromString(peer)
      if (this.connected(peerId)) return
      const target = w.bootstrap ? (this.bootstrapPeers.get(peer) ?? []).map(a => multiaddr(a)) : w.addrs
      await this.libp2p.dial(target.length > 0 ? target : peerId, { signal: AbortSignal.timeout(this.dialTimeoutMs) })
      this.log.debug({ peer }, 'dialled peer')
    } catch (err) {
      if (!this.running) return
      w.attempts++
      const hint = likelyOtherNetwork(err)
      if (!w.bootstrap && w.attempts >= this.maxAttempts) {
        this.log.info({ peer, attempts: w.attempts, err: (err as Error).message, ...(hint != null ? { hint } : {}) }, 'giving up on peer until it is discovered again')
        w.attempts = 0
        w.notBefore = Date.now() + this.maxBackoffMs
        return
      }
      const delay = this.backoff(w.attempts)
      if (w.bootstrap && w.attempts === BOOTSTRAP_WARN_AFTER) {
        // Said once per streak of failures: the usual causes are all the operator's to fix.
        this.log.warn({ peer, addresses: this.bootstrapPeers.get(peer), attempts: w.attempts, err: (err as Error).message, ...(hint != null ? { hint } : {}) },
          'cannot reach a bootstrap peer (node down, wrong address, or another network key); still trying')
      }
      this.log.debug({ peer, attempts: w.attempts, retryInMs: delay, err: (err as Error).message, ...(hint != null ? { hint } : {}) }, 'dial failed')
      this.schedule(peer, delay)
    }
  }
}

/**
 * What a failed connection most likely means, when its error says so: a node behind another
 * network key (or none) answers the private network's handshake with bytes that read as a
 * nonsense frame length ("Message length too long - 14873 > 1024") or fail to decrypt.
 */
export function likelyOtherNetwork (err: unknown): string | undefined {
  const text = String((err as Error)?.message ?? err)
  if (/Message length too long|invalid (?:length|nonce)|decrypt|unexpected end|Noise|handshake/i.test(text)) {
    return 'probably a node of another network (another network key, or an open node): it cannot join this one'
  }
  if (/ECONNRESET|EPIPE|stream reset|connection (?:was )?closed/i.test(text)) {
    return 'the peer hung up during the handshake: probably a node of another network (another network key), or not a texmesh node'
  }
  return undefined
}
