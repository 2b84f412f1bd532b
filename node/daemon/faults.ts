import { multiaddr } from '@multiformats/multiaddr'
import type { TexmeshLibp2p } from './libp2p.js'
import type { NodeTasks } from './work.js'
import type { Log } from '../log.js'

/**
 * The fault routes a harness may turn on (`NodeHooks.faults`; never on a node
 * `texmesh node` starts): partitions as refused connections, pausing the
 * queues, dialling addresses.
 */
export interface FaultHandlers {
  partition(deny: string[]): Promise<void>
  pause(paused: boolean): Promise<void>
  dial(addrs: string[]): Promise<void>
}

/** `denied` is the set libp2p's connection gater reads: peers in it are refused. */
export function faultHandlers (node: TexmeshLibp2p, tasks: NodeTasks, denied: Set<string>, log: Log): FaultHandlers {
  return {
    partition: async (deny: string[]): Promise<void> => {
      denied.clear()
      for (const p of deny) denied.add(p)
      await Promise.all(node.getConnections().filter(c => denied.has(c.remotePeer.toString())).map(async c => { await c.close().catch(() => c.abort(new Error('partitioned'))) }))
      log.info({ denied: deny.length }, 'partition set (fault hook)')
    },
    pause: async (paused: boolean): Promise<void> => { tasks.pause(paused) },
    dial: async (addrs: string[]): Promise<void> => {
      await Promise.all(addrs.map(async a => { await node.dial(multiaddr(a), { signal: AbortSignal.timeout(10_000) }).catch(() => {}) }))
    }
  }
}
