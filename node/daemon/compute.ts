import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { OcrResult } from '../../pipeline/ocr.js'
import { OcrPool } from '../../pipeline/pool.js'
import { DEFAULT_MODEL_DIR } from '../../pipeline/recognizer.js'
import { loadShippedCurve } from '../../pipeline/confidence.js'
import { ModelFileError } from '../../pipeline/model-error.js'

/**
 * What a node runs on an image: the real OCR pipeline, or (for simnet's
 * scheduler studies with dozens of nodes on one machine) a sleep drawn from a
 * measured latency distribution. `slowdown` makes either one slower, to model
 * old lab machines.
 */
export interface Compute {
  /** the model version results carry */
  readonly model: string
  recognize(image: Uint8Array, file: string, options?: { beam?: number }): Promise<OcrResult>
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

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * The real pipeline: `size` images at once (a node's workers), each on a worker
 * thread of its own (pipeline/pool.ts). The model loads on the first image.
 */
export function pipelineCompute (model: string, slowdown = 1, size = 1): Compute {
  let pipeline: Promise<OcrPool> | undefined
  return {
    model,
    async recognize (image, file, options = {}) {
      pipeline ??= OcrPool.load({ size: Math.max(1, size) })
      pipeline.catch(() => { pipeline = undefined })
      const t0 = performance.now()
      const result = await (await pipeline).recognize(image, file, options.beam != null ? { beam: options.beam } : {})
      if (slowdown <= 1) return result
      await sleep((performance.now() - t0) * (slowdown - 1))
      // What this slowed-down node took, as a slow machine would measure it.
      return { ...result, ms: Math.round((performance.now() - t0) * 10) / 10 }
    },
    async release () {
      if (pipeline != null) await pipeline.then(async p => { await p.release() }, () => {})
    }
  }
}

/** A standard normal draw (Box–Muller). */
function gaussian (random: () => number): number {
  const u = 1 - random()
  const v = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** Milliseconds from a log-normal with the given median and 95th percentile. */
export function drawLatency ([p50, p95]: readonly [number, number], random: () => number = Math.random): number {
  const sigma = Math.log(p95 / p50) / 1.6448536269514722
  return p50 * Math.exp(sigma * gaussian(random))
}

export const MODELLED_VERSION = 'modelled'
/** What modelled recognition claims: sure, but not certain (so --critical-below can be exercised). */
export const MODELLED_CONFIDENCE = 0.9

/** Recognition replaced by a sleep; the "LaTeX" names the image, so every node writes the same answer for it. */
export function modelledCompute (latency: readonly [number, number], slowdown = 1, hashOf: (image: Uint8Array) => string): Compute {
  return {
    model: MODELLED_VERSION,
    async recognize (image, _file) {
      const t0 = performance.now()
      await sleep(drawLatency(latency) * slowdown)
      // What the sleep took, timer lateness included, as the real pipeline reports what it measured.
      const ms = performance.now() - t0
      const latex = `\\mathrm{image}_{${hashOf(image).slice(0, 12)}}`
      return {
        latex,
        confidence: MODELLED_CONFIDENCE,
        alternatives: [],
        regions: [{ bbox: { x: 0, y: 0, width: 1, height: 1 }, latex, confidence: MODELLED_CONFIDENCE, score: Math.log(MODELLED_CONFIDENCE), parse: 'best', alternatives: [] }],
        model: MODELLED_VERSION,
        ms: Math.round(ms * 10) / 10
      }
    },
    async release () {}
  }
}
