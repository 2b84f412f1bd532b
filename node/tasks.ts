import type { Libp2p } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import { BlobService, sha256Hex } from '../protocols/blob/index.js'
import { TaskQueue, type TaskRecord, type TaskState } from '../protocols/tasks/queue.js'
import { TaskService, type TaskServiceStats, type WorkItem } from '../protocols/tasks/index.js'
import { ImageError, preprocess } from '../pipeline/preprocess.js'
import type { Alternative, Box } from '../pipeline/ocr.js'
import type { Replica, ResultEntry } from '../crdt/replica.js'
import type { Compute } from './compute.js'
import type { Log } from './log.js'

/**
 * The node's work sharing, wired: submitted images go into the task queue
 * (LevelDB), the task service shares them out and takes work from others,
 * `compute` recognises, and results go into the replicated store, where the
 * origin sees them and marks its tasks done.
 */

/** A result as `texmesh ocr --json` shows it, plus who wrote it. */
export interface ResultView {
  file: string
  latex: string
  confidence: number
  alternatives: Alternative[]
  regions: Array<{ bbox: Box, latex: string, confidence: number }>
  model: string
  ms: number | null
  /** the peer id of the node that recognised it */
  by: string
}

export interface TaskView {
  id: string
  hash: string
  file: string
  state: TaskState
  critical: boolean
  submittedAt: string
  /** leases given out, and how many of them ran out and were granted again */
  grants: number
  regrants: number
  workers: string[]
  failures: Array<{ peer: string, reason: string }>
  doneAt?: string
  /** true when the answer was already in the replicated store at submission */
  cached: boolean
  result?: ResultView
}

export interface TasksStats extends TaskServiceStats {
  queued: number
  leased: number
  done: number
  failedTasks: number
  regrants: number
}

export interface NodeTasksInit {
  node: Libp2p<{ pubsub: GossipSub }>
  replica: Replica
  compute: Compute
  path: string
  workers: number
  leaseMs: number
  admits?: (peer: string) => boolean
  log: Log
}

const toIso = (ms: number): string => new Date(ms).toISOString()

export class NodeTasks {
  private readonly unsubscribe: () => void

  private constructor (
    private readonly init: NodeTasksInit,
    private readonly queue: TaskQueue,
    private readonly blobs: BlobService,
    private readonly service: TaskService
  ) {
    // Any node's result for an image finishes this node's tasks for it.
    this.unsubscribe = init.replica.subscribe(change => {
      if (change.map !== 'results') return
      const hash = change.key.slice(0, change.key.lastIndexOf('/'))
      this.queue.complete(hash, change.author).then(done => {
        if (done.length > 0) init.log.debug({ hash, by: change.author, tasks: done.length }, 'tasks done')
      }, err => { init.log.warn({ err }, 'marking tasks done failed') })
    })
  }

  static async open (init: NodeTasksInit): Promise<NodeTasks> {
    const self = init.node.peerId.toString()
    const queue = await TaskQueue.open(init.path, { self, leaseMs: init.leaseMs })
    const blobs = new BlobService(init.node, { get: async hash => await queue.blob(hash) }, { log: init.log.child({ component: 'protocols:blob' }) })
    const service = new TaskService(init.node, {
      queue,
      blobs,
      capacity: init.workers,
      admits: init.admits,
      log: init.log.child({ component: 'protocols:tasks' }),
      process: async (work, image) => { await tasks.process(work, image) }
    })
    const tasks = new NodeTasks(init, queue, blobs, service)
    // Results that arrived while this node was down finish their tasks now.
    for (const t of queue.unfinished()) {
      const best = tasks.bestResult(t.hash, undefined)
      if (best != null) await queue.complete(t.hash, best.by)
    }
    await blobs.start()
    await service.start()
    return tasks
  }

  private async process (work: WorkItem, image: Uint8Array): Promise<void> {
    // Another worker (a backup, or the first holder of a lease that ran out) may have finished it meanwhile.
    if (this.init.replica.results(work.hash).size > 0) return
    const r = await this.init.compute.recognize(image, work.file)
    const entry: ResultEntry = {
      latex: r.latex,
      confidence: r.confidence,
      alternatives: r.alternatives.slice(0, 16).filter(a => Number.isFinite(a.score)),
      model: r.model,
      time: Date.now(),
      regions: r.regions.slice(0, 64).map(g => ({ bbox: g.bbox, latex: g.latex, confidence: g.confidence })),
      ms: r.ms
    }
    await this.init.replica.putResult(work.hash, entry)
  }

  /** The answer for an image: for `model` when given, the earliest written, ties by author. */
  private bestResult (hash: string, model: string | undefined): (ResultEntry & { by: string }) | undefined {
    let best: (ResultEntry & { by: string }) | undefined
    for (const [by, entry] of this.init.replica.results(hash)) {
      if (model != null && entry.model !== model) continue
      if (best == null || entry.time < best.time || (entry.time === best.time && by < best.by)) best = { ...entry, by }
    }
    return best
  }

  private view (t: TaskRecord, cached = false): TaskView {
    const v: TaskView = {
      id: t.id,
      hash: t.hash,
      file: t.file,
      state: t.state,
      critical: t.critical,
      submittedAt: toIso(t.submittedAt),
      grants: t.grants,
      regrants: t.regrants,
      workers: t.workers,
      failures: t.failures,
      cached
    }
    if (t.doneAt != null) v.doneAt = toIso(t.doneAt)
    if (t.state === 'done') {
      const r = this.bestResult(t.hash, this.init.compute.model) ?? this.bestResult(t.hash, undefined)
      if (r != null) {
        v.result = {
          file: t.file,
          latex: r.latex,
          confidence: r.confidence,
          alternatives: r.alternatives,
          regions: r.regions ?? [],
          model: r.model,
          ms: r.ms ?? null,
          by: r.by
        }
      }
    }
    return v
  }

  /**
   * Accept an image: check it, store it by SHA-256, and answer at once from the
   * replicated store when it already has a result for the current model;
   * otherwise queue a task (or return the unfinished one for the same image).
   */
  async submit (image: Uint8Array, meta: { file: string, critical: boolean }): Promise<TaskView> {
    const ink = await preprocess(image, meta.file)
    if (!ink.ink.some(v => v > 0)) throw new ImageError(meta.file, 'no-ink', 'the image has no ink (blank, or too little contrast)')
    const hash = sha256Hex(image)
    const known = this.bestResult(hash, this.init.compute.model)
    if (known != null) return this.view(await this.queue.addDone(hash, { ...meta, doneBy: known.by }), true)
    const pending = this.queue.pendingFor(hash)
    if (pending != null) return this.view(pending)
    const t = await this.queue.add(image, hash, meta)
    this.service.submitted()
    return this.view(t)
  }

  async get (id: string): Promise<TaskView | undefined> {
    const t = await this.queue.get(id)
    return t != null ? this.view(t) : undefined
  }

  async list (limit: number): Promise<TaskView[]> {
    return (await this.queue.list(limit)).map(t => this.view(t))
  }

  stats (): TasksStats {
    const q = this.queue.stats()
    return { ...this.service.stats(), queued: q.queued, leased: q.leased, done: q.done, failedTasks: q.failed, regrants: q.regrants }
  }

  /** simnet: hold this node's queue (see TaskService.pause). */
  pause (paused: boolean): void { this.service.pause(paused) }

  /** Stop taking work (running tasks finish), then close the queue. */
  async stop (): Promise<void> {
    this.unsubscribe()
    await this.service.stop()
    await this.blobs.stop()
    await this.queue.close()
  }
}
