/**
 * One OcrPool worker thread (pool.ts): loads a pipeline on one onnxruntime
 * thread, then recognises (or scores LaTeX on) the images it is sent, one at a time.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { CalibrationCurve } from './confidence.js'
import { OcrPipeline } from './ocr.js'
import type { WorkerJob, WorkerReply } from './pool.js'
import { ImageError } from './preprocess.js'

const port = parentPort
if (port == null) throw new Error('pool-worker.js runs as a worker thread of OcrPool')
const reply = (m: WorkerReply) => port.postMessage(m)
const data = workerData as { modelDir?: string; curve?: CalibrationCurve; threads?: number }

let pipeline: OcrPipeline
try {
  pipeline = await OcrPipeline.load({
    ...(data.threads != null ? { threads: data.threads } : {}),
    ...(data.modelDir != null ? { modelDir: data.modelDir } : {}),
    ...(data.curve != null ? { curve: data.curve } : {}),
  })
  reply({ type: 'ready', model: pipeline.model })
} catch (err) {
  reply({ type: 'load-failed', name: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err) })
  process.exit(1)
}

port.on('message', (job: WorkerJob) => {
  const work: Promise<WorkerReply> = job.type === 'score'
    ? pipeline.score(job.bytes, job.latex, job.file, job.options).then(scores => ({ type: 'scored', id: job.id, scores }))
    : pipeline.recognize(job.bytes, job.file, job.options).then(result => ({ type: 'done', id: job.id, result }))
  work.then(
    reply,
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err))
      reply({
        type: 'failed',
        id: job.id,
        error: { name: e.name, message: e.message, ...(e instanceof ImageError ? { file: e.file, reason: e.reason } : {}) },
      })
    }
  )
})
