import type { Libp2p } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import { blobService, type BlobService } from '../../protocols/blob/index.js'
import { SHA256_HEX, sha256Hex } from '../../util/sha256.js'
import { TaskQueue, type TaskRecord } from '../../protocols/tasks/queue.js'
import { taskService, type PeerLoad, type TaskService, type WorkItem } from '../../protocols/tasks/index.js'
import { ImageError, preprocess } from '../../pipeline/preprocess.js'
import type { Replica } from '../../crdt/replica.js'
import { MAX_RESULT_LATEX, MAX_RESULT_REGIONS, ResultEntry } from '../../crdt/schemas.js'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import type { Quorum, QuorumTimings, SignedVote, VoteTamper } from '../../protocols/votes/index.js'
import { LevelVoteLedger, MemoryVoteLedger, type VoteLedger } from '../../protocols/votes/ledger.js'
import type { OcrResult } from '../../pipeline/ocr.js'
import type { Compute } from './compute.js'
import type { Log } from '../log.js'
import { CertifiedResults } from './certified.js'
import { EvidenceCheck } from './evidence.js'
import { criticalQuorum } from './critical.js'
import { bestAnswer, resultView, taskView, type ResultView, type TaskView, type TaskViewSources, type TasksStats } from './task-view.js'

export type { ResultView, TaskView, TasksStats } from './task-view.js'

/**
 * The node's work sharing, wired: submitted images go into the task queue
 * (LevelDB), the task service shares them out and takes work from others,
 * `compute` recognises, and results go into the replicated store, where the
 * origin sees them and marks its tasks done.
 */

export interface NodeTasksInit {
  node: Libp2p<{ pubsub: GossipSub }>
  replica: Replica
  compute: Compute
  path: string
  /** LevelDB for the votes this node signed (in memory when not given) */
  votesPath?: string
  workers: number
  leaseMs: number
  admits?: (peer: string) => boolean
  /** the random source (simnet seeds it, so a run replays) @default Math.random */
  random?: () => number
  /** what people's reviews of an image say of an answer (node/daemon/reviews.ts) @default none */
  reviewOf?: TaskViewSources['reviewOf']
  /** called after every change to this node's tasks (the web interface's event stream listens) @default none */
  onChange?: () => void
  /** whether a canonical formula is one the network's reviewers settled on (ranking; undefined while none is) @default none */
  known?: () => TaskViewSources['known']
  /** the network's calibration (node/daemon/calibration.ts) @default none */
  calibrate?: TaskViewSources['calibrate']
  /** near-duplicate reuse (node/daemon/reuse.ts): a reading, or a remembered answer in its place @default none */
  reuse?: (image: Uint8Array, file: string, read: OcrResult) => Promise<{ result: OcrResult, reused?: ResultEntry['reused'] }>
  /** --critical-below auto: the threshold for a model's results @default none (auto sends nothing to the quorum) */
  autoThreshold?: (model: string) => number
  log: Log
  /** the root logger, for the protocols' own component loggers (default: children of `log`) */
  rootLog?: Log
  quorum: {
    key: Ed25519PrivateKey
    /** f for critical images (n = 3f+1 voters) */
    f: number
    /** how long a suspected voter asked again may stay silent before a ballot ends without it */
    silenceMs?: number
    /** results less confident than this become critical (null: never automatically; auto: the network's threshold) */
    criticalBelow: number | 'auto' | null
    /** the network name and admin key (certificates are checked against them), or undefined when open */
    network?: { name: string, adminPublicKey: Uint8Array }
    eligible: () => string[]
    isMember: (peer: string) => boolean
    /** when the admin revoked a peer, if it did (its votes from then on do not count in a certificate) */
    revokedAt?: (peer: string) => number | undefined
    certificateOf: (peer: string) => string | undefined
    onEquivocation?: (a: SignedVote, b: SignedVote) => Promise<void>
    tamper?: VoteTamper
  }
}

export class NodeTasks {
  private readonly unsubscribe: () => void
  private quorum!: Quorum
  private readonly certified: CertifiedResults
  private readonly evidence: EvidenceCheck
  /** result writes still in flight (a slot does not wait for them) */
  private readonly writes = new Set<Promise<void>>()
  /** submissions under way, by image hash */
  private readonly submitting = new Map<string, Promise<TaskView>>()

  private constructor (
    private readonly init: NodeTasksInit,
    private readonly queue: TaskQueue,
    private readonly blobs: BlobService,
    private readonly service: TaskService,
    private readonly ledger: VoteLedger
  ) {
    this.certified = new CertifiedResults(init.replica, { minF: init.quorum.f, ...(init.quorum.network != null ? { network: init.quorum.network } : {}), ...(init.quorum.revokedAt != null ? { revokedAt: init.quorum.revokedAt } : {}) }, init.log)
    this.evidence = new EvidenceCheck(init.replica, () => this.quorum.equivocators, init.log)
    // Any node's result for an image finishes this node's tasks for it (critical ones: a certified result).
    this.unsubscribe = init.replica.subscribe(change => {
      if (change.map === 'evidence') this.evidence.load().catch(err => { init.log.warn({ err }, 'checking equivocation evidence failed') })
      if (change.map !== 'results') return
      const hash = change.key.slice(0, change.key.lastIndexOf('/'))
      void this.onResult(hash, change.author).catch(err => { init.log.warn({ err }, 'marking tasks done failed') })
    })
  }

  private async onResult (hash: string, author: string): Promise<void> {
    const entry = this.init.replica.results(hash).get(author)
    if (entry == null) return
    const certified = await this.certified.check(hash, author, entry)
    const below = this.init.quorum.criticalBelow
    const threshold = below === 'auto' ? this.init.autoThreshold?.(entry.model) ?? null : below
    if (!certified && threshold != null && entry.confidence < threshold) {
      // Not sure enough: the network votes on it instead.
      for (const t of await this.queue.makeCritical(hash)) {
        this.init.log.info({ task: t.id, confidence: entry.confidence, threshold }, 'low confidence: the task becomes critical')
        this.quorum.begin({ id: t.id, image: t.hash, file: t.file })
      }
      if (this.queue.pendingFor(hash)?.critical === true) return
    }
    const done = await this.queue.complete(hash, author, { certified, ms: entry.ms })
    for (const t of done) if (t.critical) this.quorum.end(t.id)
    if (done.length > 0) this.init.log.debug({ hash, by: author, tasks: done.length }, 'tasks done')
  }

  static async open (init: NodeTasksInit): Promise<NodeTasks> {
    const self = init.node.peerId.toString()
    const queue = await TaskQueue.open(init.path, { self, leaseMs: init.leaseMs, ...(init.onChange != null ? { onChange: init.onChange } : {}) })
    let ledger: VoteLedger
    try {
      ledger = init.votesPath != null ? await LevelVoteLedger.open(init.votesPath) : new MemoryVoteLedger()
    } catch (err) {
      await queue.close()
      throw err
    }
    const blobs = blobService({
      source: { get: async hash => await queue.blob(hash) },
      ...(init.admits != null ? { admits: init.admits } : {})
    })({ node: init.node, log: (init.rootLog ?? init.log).child({ component: 'protocols:blob' }) })
    const service = taskService({
      queue,
      blobs,
      capacity: init.workers,
      admits: init.admits,
      ...(init.random != null ? { random: init.random } : {}),
      process: async (work, image) => { await tasks.process(work, image) }
    })({ node: init.node, log: (init.rootLog ?? init.log).child({ component: 'protocols:tasks' }) })
    const tasks = new NodeTasks(init, queue, blobs, service, ledger)
    tasks.quorum = criticalQuorum(init, queue, blobs, ledger, tasks.certified.context)
    try {
      // Serving images and hearing votes first: replaying results below may start a vote.
      await blobs.start()
      tasks.quorum.start()
      // Results that arrived while this node was down finish their tasks now.
      for (const t of queue.unfinished()) {
        for (const by of init.replica.results(t.hash).keys()) await tasks.onResult(t.hash, by)
      }
      // Certificates already in the store of the newest tasks, checked now; older ones when read.
      for (const t of await queue.list(1000)) await tasks.certified.checkTask(t)
      await tasks.evidence.load()
      await service.start()
      // Critical tasks still open after a restart go to a vote again.
      for (const t of queue.unfinished()) if (t.critical) tasks.quorum.begin({ id: t.id, image: t.hash, file: t.file })
    } catch (err) {
      await tasks.stop().catch(() => {})
      throw err
    }
    return tasks
  }

  private async process (work: WorkItem, image: Uint8Array): Promise<void> {
    // Another worker (a backup, or the first holder of a lease that ran out) may have finished it meanwhile.
    if ([...this.init.replica.results(work.hash).values()].some(r => r.model === this.init.compute.model)) return
    const read = await this.init.compute.recognize(image, work.file)
    const { result: r, reused } = this.init.reuse == null
      ? { result: read }
      : await this.init.reuse(image, work.file, read).catch((err: unknown) => {
        this.init.log.warn({ task: work.id, err: (err as Error).message }, 'looking the image up in memory failed; its own reading stands')
        return { result: read, reused: undefined }
      })
    const entry: ResultEntry = {
      latex: r.latex,
      confidence: r.confidence,
      alternatives: r.alternatives.slice(0, 16).filter(a => Number.isFinite(a.score)),
      model: r.model,
      time: Date.now(),
      task: work.id,
      regions: r.regions.map(g => ({ bbox: g.bbox, latex: g.latex, confidence: g.confidence })),
      ms: r.ms,
      ...(r.rotated != null ? { rotated: r.rotated } : {}),
      ...(r.unreadable != null ? { unreadable: r.unreadable } : {}),
      ...(r.embedding != null ? { embedding: r.embedding } : {}),
      ...(reused != null ? { reused } : {})
    }
    // A result the store would refuse (too long, say) fails the task now, as any other recognition
    // error does, rather than on every worker in turn after each lease runs out.
    if (entry.regions!.length > MAX_RESULT_REGIONS) throw new Error(`the image holds ${entry.regions!.length} formulas; a result holds at most ${MAX_RESULT_REGIONS} (crop it into parts)`)
    if (entry.latex.length > MAX_RESULT_LATEX) throw new Error(`the LaTeX read is ${entry.latex.length} characters; a result holds at most ${MAX_RESULT_LATEX} (crop the image into parts)`)
    ResultEntry.parse(entry)
    // The slot goes on to its next task while the result is signed, stored and gossiped. Should the
    // write fail (or this node die first), the lease runs out at the origin and the task is granted again.
    const write = this.init.replica.putResult(work.hash, entry).catch((err: unknown) => {
      // A ReplicaWriteError keeps the result and stores it later; the origin may grant the task again meanwhile.
      this.init.log.warn({ task: work.id, err: (err as Error).message }, 'writing a result failed; the task may be granted again')
    })
    this.writes.add(write)
    void write.finally(() => { this.writes.delete(write) })
  }

  private get sources (): TaskViewSources {
    return { replica: this.init.replica, certified: this.certified, model: this.init.compute.model, quorumState: id => this.quorum.stateOf(id), reviewOf: this.init.reviewOf ?? (() => undefined), calibrate: this.init.calibrate ?? (() => undefined), known: this.init.known?.() }
  }

  private view (t: TaskRecord): TaskView {
    return taskView(t, this.sources)
  }

  /** Whether a result's quorum certificate was checked here and holds. */
  certifiedHolds (hash: string, author: string): boolean {
    return this.certified.holds(hash, author)
  }

  /** An image this node holds (its own tasks'). */
  async image (hash: string): Promise<Uint8Array | undefined> {
    return await this.queue.blob(hash)
  }

  /** The answer served for a task id of this node, or an image hash (what a reviewer reviews). */
  async answer (target: string): Promise<{ hash: string, result: ResultView } | undefined> {
    if (SHA256_HEX.test(target)) {
      await this.certified.checkImage(target)
      const r = bestAnswer(target, this.sources)
      return r != null ? { hash: target, result: resultView(target.slice(0, 12), target, r, this.sources) } : undefined
    }
    const t = await this.get(target)
    return t?.result != null ? { hash: t.hash, result: t.result } : undefined
  }

  /**
   * Accept an image: check it, store it by SHA-256, and answer at once from the
   * replicated store when it already has a result for the current model;
   * otherwise queue a task (or return the unfinished one for the same image).
   */
  async submit (image: Uint8Array, meta: { file: string, critical: boolean }): Promise<TaskView> {
    // One submission of an image at a time, so the same image sent twice at once makes one task.
    const hash = sha256Hex(image)
    const before = this.submitting.get(hash)
    const run = (async () => {
      await before?.catch(() => {})
      return await this.submitOne(image, hash, meta)
    })()
    this.submitting.set(hash, run)
    try {
      return await run
    } finally {
      if (this.submitting.get(hash) === run) this.submitting.delete(hash)
    }
  }

  private async submitOne (image: Uint8Array, hash: string, meta: { file: string, critical: boolean }): Promise<TaskView> {
    const ink = await preprocess(image, meta.file)
    if (!ink.ink.some(v => v > 0)) throw new ImageError(meta.file, 'no-ink', 'the image has no ink (blank, or too little contrast)')
    if (meta.critical) {
      // Certificates for this image not yet checked (it was never submitted here): check them now.
      await this.certified.checkImage(hash)
    }
    const known = this.certified.best(hash, this.init.compute.model, meta.critical)
    if (known != null) return this.view(await this.queue.addDone(hash, { ...meta, doneBy: known.by }))
    const pending = this.queue.pendingFor(hash)
    if (pending != null) {
      if (!meta.critical || pending.critical) return this.view(pending)
      // The same image again, now critical: the open task goes to a vote.
      for (const c of await this.queue.makeCritical(hash)) this.quorum.begin({ id: c.id, image: c.hash, file: c.file })
      return this.view((await this.queue.get(pending.id))!)
    }
    const t = await this.queue.add(image, hash, meta)
    if (meta.critical) this.quorum.begin({ id: t.id, image: t.hash, file: t.file })
    else this.service.submitted()
    return this.view(t)
  }

  async get (id: string): Promise<TaskView | undefined> {
    const t = await this.queue.get(id)
    if (t == null) return undefined
    await this.certified.checkTask(t)
    return this.view(t)
  }

  async list (limit: number): Promise<TaskView[]> {
    const tasks = await this.queue.list(limit)
    for (const t of tasks) await this.certified.checkTask(t)
    return tasks.map(t => this.view(t))
  }

  stats (): TasksStats {
    const q = this.queue.stats()
    return { ...this.service.stats(), queued: q.queued, leased: q.leased, done: q.done, failedTasks: q.failed, regrants: q.regrants, grants: q.grants }
  }

  /** what each connected peer last said of its load */
  peerLoads (): Map<string, PeerLoad> {
    return this.service.peerLoads()
  }

  /** simnet: hold this node's queue (see TaskService.pause). */
  pause (paused: boolean): void {
    this.service.pause(paused)
    this.quorum.pause(paused)
  }

  /** Where ballots' time goes on this node, as origin and as voter. */
  quorumTimings (): QuorumTimings { return this.quorum.timings() }

  /** ms from the vote that completed each quorum of this node's tasks to its certificate. */
  certificateFormationMs (): readonly number[] { return this.quorum.formationMs }

  /** Voters caught signing two different votes on one task. */
  equivocators (): Set<string> { return this.quorum.equivocators }

  /** Stop taking work (running tasks finish), then close the queue. */
  async stop (): Promise<void> {
    this.unsubscribe()
    await this.quorum.stop()
    await this.service.stop()
    await Promise.all(this.writes)
    await this.blobs.stop()
    await this.queue.close()
    await this.ledger.close()
  }
}
