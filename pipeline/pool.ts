/**
 * Several OCR pipelines side by side, one per worker thread.
 *
 * onnxruntime-node runs a session synchronously on the thread that calls it,
 * so two images in one thread take turns, and onnxruntime's own intra-op
 * threads do not help this model (its operators are too small: one image took
 * 46 ms on one thread and 78 ms on two, bench:ocr). A pool of worker threads,
 * each with its own pipeline on one onnxruntime thread, recognises `size`
 * images at once. Jobs wait in order for a free worker; a worker that dies
 * fails its image and is replaced.
 */
import { Worker } from 'node:worker_threads'
import type { ForcedScore } from './forced.js'
import type { OcrOptions, OcrResult, PipelineOptions } from './ocr.js'
import { ImageError, type ImageErrorReason } from './preprocess.js'
import { ModelFileError } from './model-error.js'

export interface PoolOptions extends PipelineOptions {
  /** Images recognised at once: worker threads, each with its own model session (threads: onnxruntime threads of each, default 1). */
  size: number;
}

/** What a worker says (pool-worker.ts). */
export type WorkerReply =
  | { type: 'ready'; model: string }
  | { type: 'load-failed'; name: string; message: string }
  | { type: 'done'; id: number; result: OcrResult }
  | { type: 'scored'; id: number; scores: Array<ForcedScore | undefined> | undefined }
  | { type: 'failed'; id: number; error: { name: string; message: string; file?: string; reason?: ImageErrorReason } }

/** What a worker is asked: to read an image, or to score LaTeX on it (OcrPipeline.score). */
export type WorkerJob = { type: 'recognize'; id: number; bytes: Uint8Array; file: string; options: OcrOptions; latex?: undefined }
  | { type: 'score'; id: number; bytes: Uint8Array; file: string; options: OcrOptions; latex: string[] }

interface Job {
  id: number;
  bytes: Uint8Array;
  file: string;
  options: OcrOptions;
  /** LaTeX to score on the image rather than read it */
  latex?: string[];
  /** performance.now() when it was queued */
  queued: number;
  /** milliseconds it waited for a free worker (set when it is handed to one) */
  waited?: number;
  resolve: (r: OcrResult | Array<ForcedScore | undefined> | undefined) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job?: Job;
}

const WORKER_URL = new URL('./pool-worker.js', import.meta.url)

/** An error as it crossed the thread boundary: an image refusal stays an ImageError. */
function revive (e: Extract<WorkerReply, { type: 'failed' }>['error']): Error {
  if (e.name === 'ImageError' && e.file != null && e.reason != null) {
    return new ImageError(e.file, e.reason, e.message.startsWith(`${e.file}: `) ? e.message.slice(e.file.length + 2) : e.message)
  }
  const err = new Error(e.message)
  err.name = e.name
  return err
}

export class OcrPool {
  private readonly slots: Slot[] = []
  private readonly queue: Job[] = []
  private nextId = 0
  private closed = false
  private busyPeak = 0

  private constructor (
    private readonly options: PoolOptions,
    /** The model version (model.json), which results and votes carry. */
    readonly model: string
  ) {}

  /** Start `size` workers and wait until each has loaded the model (a model that will not load fails here). */
  static async load (options: PoolOptions): Promise<OcrPool> {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError(`a pool needs at least one worker, not ${options.size}`)
    const started = await Promise.allSettled(Array.from({ length: options.size }, async () => await OcrPool.spawn(options)))
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failed) {
      await Promise.all(started.map(async (s) => (s.status === 'fulfilled' ? await s.value.worker.terminate() : undefined)))
      throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason))
    }
    const ready = started.map((s) => (s as PromiseFulfilledResult<{ worker: Worker; model: string }>).value)
    const pool = new OcrPool(options, ready[0]!.model)
    for (const r of ready) pool.adopt(r.worker)
    return pool
  }

  /** A worker thread with its pipeline loaded. */
  private static async spawn (options: PoolOptions): Promise<{ worker: Worker; model: string }> {
    const worker = new Worker(WORKER_URL, { workerData: { modelDir: options.modelDir, curve: options.curve, threads: options.threads } })
    return await new Promise((resolve, reject) => {
      const onMessage = (m: WorkerReply) => {
        cleanup()
        if (m.type === 'ready') resolve({ worker, model: m.model })
        else {
          void worker.terminate()
          if (m.type !== 'load-failed') reject(new Error(`OCR worker sent ${m.type} before it was ready`))
          // A model folder that cannot be used is the same error on this side of the thread.
          else reject(m.name === 'ModelFileError' ? new ModelFileError(m.message) : new Error(m.message))
        }
      }
      const onError = (err: Error) => {
        cleanup()
        reject(err)
      }
      const onExit = (code: number) => {
        cleanup()
        reject(new Error(`OCR worker exited with code ${code} while loading the model`))
      }
      const cleanup = () => {
        worker.off('message', onMessage)
        worker.off('error', onError)
        worker.off('exit', onExit)
      }
      worker.on('message', onMessage)
      worker.once('error', onError)
      worker.once('exit', onExit)
    })
  }

  private adopt (worker: Worker): void {
    const slot: Slot = { worker }
    this.slots.push(slot)
    worker.on('message', (m: WorkerReply) => {
      const job = slot.job
      if ((m.type !== 'done' && m.type !== 'failed' && m.type !== 'scored') || job == null || m.id !== job.id) return
      slot.job = undefined
      // The wait for a worker is a stage of its own, measured here; the worker timed the rest (timings.ts).
      if (m.type === 'done') job.resolve({ ...m.result, timings: { queue: job.waited ?? 0, ...m.result.timings } })
      else if (m.type === 'scored') job.resolve(m.scores)
      else job.reject(revive(m.error))
      this.pump()
    })
    // A worker that dies (a crash in native code, out of memory) fails its image and is replaced.
    const lost = (why: string) => {
      const at = this.slots.indexOf(slot)
      if (at < 0) return
      this.slots.splice(at, 1)
      slot.job?.reject(new Error(`the OCR worker ${why} while reading ${slot.job.file}`))
      slot.job = undefined
      if (this.closed) return
      OcrPool.spawn(this.options).then(
        (r) => {
          if (this.closed) void r.worker.terminate()
          else {
            this.adopt(r.worker)
            this.pump()
          }
        },
        () => {
          // No replacement: the pool goes on with fewer workers; with none, waiting images fail.
          if (this.slots.length === 0) for (const j of this.queue.splice(0)) j.reject(new Error('no OCR worker could be started'))
        }
      )
    }
    worker.on('error', (err) => lost(`failed (${err.message})`))
    worker.on('exit', (code) => lost(`exited with code ${code}`))
  }

  /** Workers in the pool. */
  get size (): number {
    return this.slots.length
  }

  /** The most images that were being recognised at the same moment. */
  get peakBusy (): number {
    return this.busyPeak
  }

  /** Recognise one image on the next free worker. Throws ImageError (naming `file`) for input that is not a readable image with ink. */
  async recognize (bytes: Uint8Array, file = '<image>', options: OcrOptions = {}): Promise<OcrResult> {
    return await this.enqueue(bytes, file, options) as OcrResult
  }

  /** The model's score of each LaTeX on an image of one formula, on the next free worker (OcrPipeline.score). */
  async score (bytes: Uint8Array, latex: readonly string[], file = '<image>', options: Pick<OcrOptions, 'maxPixels'> = {}): Promise<Array<ForcedScore | undefined> | undefined> {
    return await this.enqueue(bytes, file, options, [...latex]) as Array<ForcedScore | undefined> | undefined
  }

  private async enqueue (bytes: Uint8Array, file: string, options: OcrOptions, latex?: string[]): Promise<OcrResult | Array<ForcedScore | undefined> | undefined> {
    if (this.closed) throw new Error('the OCR pool is released')
    return await new Promise((resolve, reject) => {
      // A copy the worker can own: the caller's buffer may be a slice of a shared pool.
      this.queue.push({ id: this.nextId++, bytes: new Uint8Array(bytes), file, options, ...(latex != null ? { latex } : {}), queued: performance.now(), resolve, reject })
      this.pump()
    })
  }

  private pump (): void {
    for (const slot of this.slots) {
      if (slot.job != null) continue
      const job = this.queue.shift()
      if (job == null) break
      slot.job = job
      job.waited = performance.now() - job.queued
      const msg: WorkerJob = job.latex != null
        ? { type: 'score', id: job.id, bytes: job.bytes, file: job.file, options: job.options, latex: job.latex }
        : { type: 'recognize', id: job.id, bytes: job.bytes, file: job.file, options: job.options }
      slot.worker.postMessage(msg, [job.bytes.buffer as ArrayBuffer])
    }
    this.busyPeak = Math.max(this.busyPeak, this.slots.filter((s) => s.job != null).length)
  }

  /** Stop the workers. Images still waiting or running fail. */
  async release (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const j of this.queue.splice(0)) j.reject(new Error('the OCR pool was released'))
    const slots = this.slots.splice(0)
    for (const s of slots) s.job?.reject(new Error('the OCR pool was released'))
    await Promise.all(slots.map(async (s) => await s.worker.terminate()))
  }
}
