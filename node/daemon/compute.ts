import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ForcedScore } from '../../pipeline/forced.js'
import type { OcrResult } from '../../pipeline/ocr.js'
import { OcrPool } from '../../pipeline/pool.js'
import { DEFAULT_MODEL_DIR } from '../../pipeline/recognizer.js'
import { loadShippedCurve } from '../../pipeline/confidence.js'
import { ModelFileError } from '../../pipeline/model-error.js'

/**
 * What a node runs on an image: the real OCR pipeline here; simnet hands a
 * node others (simnet/compute.ts: a modelled sleep, a slowed pipeline).
 */
export interface Compute {
  /** the model version results carry */
  readonly model: string
  /** The result may carry where the time went (`timings`, pipeline/timings.ts): NodeMetrics.timed observes it and takes it off. */
  recognize(image: Uint8Array, file: string, options?: { beam?: number }): Promise<OcrResult>
  /** The model's score of each LaTeX on an image of one formula (pipeline/forced.ts); absent where the compute cannot (simnet's modelled ones). */
  score?(image: Uint8Array, file: string, latex: readonly string[]): Promise<Array<ForcedScore | undefined> | undefined>
  release(): Promise<void>
}

/**
 * The model version of the shipped model, read from model.json without loading
 * ONNX, with its calibration curve checked: a node whose curve is stale or
 * broken refuses to start rather than fail every task it takes.
 */
export async function shippedModelVersion (modelDir = DEFAULT_MODEL_DIR): Promise<string> {
  let manifest: { version?: unknown }
  try {
    manifest = JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8')) as { version?: unknown }
  } catch (err) {
    throw new ModelFileError(`model folder ${modelDir}: model.json is missing or invalid (${(err as Error).message})`)
  }
  if (typeof manifest.version !== 'string') throw new ModelFileError(`model folder ${modelDir}: model.json has no version`)
  await loadShippedCurve(modelDir, manifest.version)
  return manifest.version
}

/**
 * The real pipeline: `size` images at once (a node's workers), each on a worker
 * thread of its own (pipeline/pool.ts). The model loads on the first image.
 */
export function pipelineCompute (model: string, size = 1): Compute {
  let pipeline: Promise<OcrPool> | undefined
  const pool = async (): Promise<OcrPool> => {
    pipeline ??= OcrPool.load({ size: Math.max(1, size) })
    pipeline.catch(() => { pipeline = undefined })
    return await pipeline
  }
  return {
    model,
    async recognize (image, file, options = {}) {
      return await (await pool()).recognize(image, file, options.beam != null ? { beam: options.beam } : {})
    },
    async score (image, file, latex) {
      return await (await pool()).score(image, latex, file)
    },
    async release () {
      if (pipeline != null) await pipeline.then(async p => { await p.release() }, () => {})
    }
  }
}
