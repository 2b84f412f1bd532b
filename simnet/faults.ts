/**
 * The faults a run makes, at their points: the network split in two halves
 * (at a fifth of the tasks done) and healed after --partition-ms; some nodes
 * SIGKILLed (never the origin; at a third) and restarted after --restart if
 * asked. Each is recorded as it is made, and the nodes' downtime with them.
 */
import type { Cluster, SimNode } from './cluster.js'
import { holder, type TaskObserver } from './observer.js'
import type { RunOptions } from './options.js'
import type { Fault, SimnetReport } from './types.js'

/** What the faults need of the run: its start, its size, its progress lines, its timers and its count of tasks done. */
export interface FaultContext {
  t0: number
  total: number
  say: (line: string) => void
  /** timers cleared when the run ends: a restart or a heal still pending must not outlive it */
  timers: Array<ReturnType<typeof setTimeout>>
  /** the tasks done now */
  done: () => number
  tasks: TaskObserver
}

const nodeList = (list: SimNode[]): string => `node${list.length > 1 ? 's' : ''} ${list.map(v => v.index).join(', ')}`

/** Deny a node every peer in `deny` (none: a node open to all again). */
async function denyPeers (n: SimNode, deny: string[]): Promise<void> {
  await n.client!.post('/v1/simnet/partition', { deny }).catch(() => {})
}

/** End a partition: every live node accepts every other again and dials them. */
async function heal (cluster: Cluster): Promise<void> {
  await Promise.all(cluster.live().map(async n => { await denyPeers(n, []) }))
  await Promise.all(cluster.live().map(async n => { await n.client!.post('/v1/simnet/dial', { addrs: cluster.live().filter(x => x !== n).map(x => x.addr) }).catch(() => {}) }))
}

function pickVictims (nodes: SimNode[], k: number, seed: number): SimNode[] {
  // Never the origin (node 0): its queue is what the run measures. Seeded, so a run can be replayed.
  const pool = nodes.slice(1)
  let s = seed >>> 0
  const rand = (): number => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!]
  }
  return pool.slice(0, k)
}

export class FaultInjector {
  /** the faults made, in the order they were */
  readonly made: Fault[] = []
  /** when nodes were down */
  readonly downtime: SimnetReport['downtime'] = []
  /** when the crash was made */
  crashAt: number | undefined
  /** the tasks the crashed nodes held leases on */
  heldByVictims: string[] = []
  private readonly victims: SimNode[]
  private readonly partitionPoint: number | undefined
  private readonly crashPoint: number | undefined
  private partitioned = false
  private healed = false
  // Faults being made (each beside the run's loop: see drive.ts); the run waits for them before it sums up.
  private readonly actions: Array<Promise<void>> = []

  constructor (private readonly cluster: Cluster, private readonly o: RunOptions, private readonly run: FaultContext) {
    this.victims = o.crash > 0 ? pickVictims(cluster.nodes, o.crash, o.seed) : []
    // The points the faults fire at, as their help says: a partition at a fifth of the tasks done, the crash at a third.
    this.partitionPoint = o.partition === true ? run.total / 5 : undefined
    this.crashPoint = this.victims.length > 0 ? run.total / 3 : undefined
  }

  /** The tasks done at which the partition is due, while it is still to be made. */
  partitionDue (): number | undefined {
    return this.partitioned ? undefined : this.partitionPoint
  }

  /** The tasks done at which the crash is due, while it is still to be made. */
  crashDue (): number | undefined {
    return this.crashAt != null ? undefined : this.crashPoint
  }

  private record (atMs: number, what: string, done: number): void {
    this.made.push({ atMs, what, done, of: this.run.total })
  }

  /** Split the network in two halves now, `firedAt` tasks done; heal it after --partition-ms. */
  partition (firedAt: number): void {
    const { t0, total, say } = this.run
    const nodes = this.cluster.nodes
    this.partitioned = true
    const at = Date.now()
    this.actions.push((async () => {
      const half = Math.ceil(nodes.length / 2)
      const sides = [nodes.slice(0, half), nodes.slice(half)]
      await Promise.all(nodes.map(async (n, i) => {
        const other = i < half ? sides[1]! : sides[0]!
        await denyPeers(n, other.map(x => x.peerId))
      }))
      this.record(at - t0, `partition: nodes 0-${half - 1} | ${half}-${nodes.length - 1}`, firedAt)
      say(`partitioned at ${firedAt} of ${total} done`)
      this.run.timers.push(setTimeout(() => {
        void (async () => {
          if (await this.healOnce('partition healed')) say('partition healed')
        })()
      }, this.o.partitionMs))
    })())
  }

  /** End the partition, once (its timer or the run's end, whichever comes first); false when it was already. */
  private async healOnce (what: string): Promise<boolean> {
    if (this.healed) return false
    this.healed = true
    await heal(this.cluster)
    this.record(Date.now() - this.run.t0, what, this.run.done())
    return true
  }

  /** SIGKILL the victims now, `firedAt` tasks done; restart them after --restart if asked. */
  crash (firedAt: number): void {
    const { t0, total, say, tasks } = this.run
    const victims = this.victims
    const at = Date.now()
    this.crashAt = at
    const listedBefore = tasks.lastListed
    // SIGKILL goes out now; kill() then waits for the processes to be gone.
    const killed = Promise.all(victims.map(async v => { await v.kill() }))
    for (const v of victims) this.downtime.push({ node: v.index, fromMs: at - t0, toMs: null })
    this.actions.push((async () => {
      await killed
      // What the victims held, read just after the kill: their leases stay theirs at the origin until they run out.
      await tasks.refresh()
      const held = [...tasks.views.values()].filter(v => v.state === 'leased' && victims.some(x => x.peerId === holder(v)))
      this.heldByVictims = held.map(v => v.id)
      // A lease first seen after the kill was taken after the list before it: it began between the two.
      for (const v of held) {
        const seen = tasks.leaseSeen(v.id, holder(v)!)
        if (seen != null && seen.first > at) seen.first = Math.min(at, listedBefore)
      }
      this.record(at - t0, `SIGKILL ${nodeList(victims)} holding ${this.heldByVictims.length} leases`, firedAt)
      say(`killed ${nodeList(victims)} at ${firedAt} of ${total} done (${this.heldByVictims.length} leases held)`)
      if (this.o.restartAfterMs >= 0) {
        this.run.timers.push(setTimeout(() => {
          void Promise.all(victims.map(async v => {
            await v.start(this.cluster.seeds()).then(() => {
              const back = Date.now() - t0
              const down = this.downtime.find(d => d.node === v.index && d.toMs == null)
              if (down != null) down.toMs = back
              this.record(back, `node ${v.index} restarted`, this.run.done())
            }, err => { say(`restarting node ${v.index} failed: ${(err as Error).message}`) })
          }))
        }, Math.max(0, this.o.restartAfterMs - (Date.now() - at))))
      }
    })())
  }

  /** Wait for the faults being made, heal a partition still standing; the faults asked for that the run ended before making. */
  async finish (): Promise<string[]> {
    await Promise.all(this.actions)
    if (this.partitioned) {
      // The run is over: heal now (the timer would outlive --timeout by up to --partition-ms).
      await this.healOnce('partition healed (end of run)')
    }
    // Faults asked for that the run ended before making: said, so a pass is not mistaken for one under fault.
    const notMade: string[] = []
    if (this.partitionDue() != null) notMade.push('the partition')
    if (this.crashDue() != null) notMade.push('the crash')
    return notMade
  }
}
