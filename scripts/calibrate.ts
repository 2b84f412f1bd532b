/**
 * npm run calibrate -- [DIR] [--model DIR] [--beam N]
 *
 * Fit the confidence calibration curve a model ships: recognise every image of
 * a labelled folder (default datasets/calibration, never trained on and apart
 * from the held-out sets), note each answer's raw probability and whether it
 * was right, fit the curve by isotonic regression (pipeline/confidence.ts), and
 * write MODEL/calibration.json for the model's current version. The pipeline
 * uses it from then on; `npm run eval` shows how well it holds on other sets.
 */
import { Command } from 'commander'
import { rename, writeFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  calibrate,
  CALIBRATION_FILE,
  expectedCalibrationError,
  fitCalibration,
  IDENTITY_CURVE,
  ShippedCalibration,
} from '../pipeline/confidence.js'
import { DEFAULT_BEAM, OcrPipeline } from '../pipeline/ocr.js'
import { DEFAULT_MODEL_DIR } from '../pipeline/recognizer.js'
import { evaluate, positiveInt, stderrProgress } from './eval.js'

const DEFAULT_SET = join(DEFAULT_MODEL_DIR, '..', '..', 'datasets', 'calibration')

async function main (): Promise<void> {
  const cmd = new Command('calibrate')
    .description("fit the model's confidence calibration curve on a labelled folder (images and truth.jsonl)")
    .argument('[dir]', 'folder with images and truth.jsonl', DEFAULT_SET)
    .option('--model <dir>', 'model folder (calibration.json is written there)', DEFAULT_MODEL_DIR)
    .option('--beam <n>', 'beam width, as the pipeline runs it', positiveInt, DEFAULT_BEAM)
    .parse()
  const dir = cmd.args[0] ?? DEFAULT_SET
  const o = cmd.opts<{ model: string; beam: number }>()
  // The pipeline a user runs, stating raw probabilities (the identity curve) while its curve is fitted.
  const pipeline = await OcrPipeline.load({ modelDir: o.model, curve: IDENTITY_CURVE })
  try {
    const { items } = await evaluate(dir, pipeline, { beam: o.beam, progress: stderrProgress })
    // An image that could not be read says nothing about the model's confidence.
    const outcomes = items.filter((x) => x.error == null).map((x) => ({ raw: x.raw, right: x.exact }))
    if (outcomes.length < 50) throw new Error(`${dir}: ${outcomes.length} readable images; a curve needs at least 50`)
    const curve = fitCalibration(outcomes)
    const shipped: ShippedCalibration = {
      model: pipeline.model,
      curve: curve.points,
      fittedOn: outcomes.map((x) => [x.raw, x.right ? 1 : 0]),
      // Relative to the repository, wherever the model folder is (a candidate is exported outside it).
      set: relative(resolve(import.meta.dirname, '..', '..'), resolve(dir)),
      beam: o.beam,
    }
    const path = join(o.model, CALIBRATION_FILE)
    // Written whole or not at all: a cut file would stop every pipeline that loads this model.
    await writeFile(`${path}.tmp`, JSON.stringify(ShippedCalibration.parse(shipped)) + '\n')
    await rename(`${path}.tmp`, path)
    const right = outcomes.filter((x) => x.right).length
    const ece = (f: (raw: number) => number) => expectedCalibrationError(outcomes.map((x) => ({ p: f(x.raw), right: x.right })))
    console.log(`${outcomes.length} images in ${dir}, ${right} read right (${((100 * right) / outcomes.length).toFixed(1)} %), beam ${o.beam}`)
    console.log(`calibration error on them: raw probability ${ece((r) => r).toFixed(3)}, calibrated ${ece((r) => calibrate(r, curve)).toFixed(3)}`)
    console.log(`curve of ${curve.points.length} points for ${pipeline.model} -> ${path}`)
  } finally {
    await pipeline.release()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`calibrate: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  })
}
