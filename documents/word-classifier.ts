/**
 * Is a word on a scanned page prose, mathematics or a number? A small convolutional network
 * (models/word-math/classifier.onnx, trained by scripts/train/words.py on pages the generator
 * typesets: datagen/words.ts) looks at the word alone, cut at a fixed scale around its line's
 * baseline, so italic letters, scripts, operators and Greek tell it apart from upright prose.
 */
import * as ort from 'onnxruntime-node'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Line, Word } from './layout.js'
import type { GrayPage } from './pdf.js'

/** The crop the network reads: this many pixels high and wide... */
export const CROP_HEIGHT = 32
export const CROP_WIDTH = 128
/** ...at this many pixels an x-height, from this many x-heights above the baseline. */
const PX_PER_X = 8
const ABOVE = 2.75
/** Margin around the word, in x-heights. */
const MARGIN = 0.25

/** What a word is: prose, mathematics, or a number (digits look the same in prose and in formulas). */
export enum WordKind { prose = 0, math = 1, number = 2 }
/** The characters of a number: digits, with brackets, points, commas and % (a label for training). */
export const NUMBER = /^[([]?[0-9][0-9.,]*[%)\]]?[.,;:]?$/

export const DEFAULT_WORD_MODEL = fileURLToPath(new URL('../../models/word-math/classifier.onnx', import.meta.url))

/**
 * A word's crop: ink 0 (white) to 1 (black), CROP_HEIGHT rows of CROP_WIDTH, left-aligned; a word
 * wider than the crop is squeezed into it. Each output pixel averages the page pixels it covers.
 */
export function wordCrop (page: GrayPage, line: Line, word: Word, xHeight: number): Float32Array {
  const out = new Float32Array(CROP_HEIGHT * CROP_WIDTH)
  const sy = PX_PER_X / xHeight
  const x0 = word.left - MARGIN * xHeight
  const spanX = word.right + 1 + MARGIN * xHeight - x0
  const sx = Math.min(sy, CROP_WIDTH / spanX)
  const y0 = line.baseline + 1 - ABOVE * xHeight
  const outWidth = Math.min(CROP_WIDTH, Math.ceil(spanX * sx))
  for (let oy = 0; oy < CROP_HEIGHT; oy++) {
    const ya = y0 + oy / sy
    const yb = y0 + (oy + 1) / sy
    for (let ox = 0; ox < outWidth; ox++) {
      const xa = x0 + ox / sx
      const xb = x0 + (ox + 1) / sx
      let sum = 0
      let n = 0
      for (let y = Math.max(0, Math.floor(ya)); y < Math.min(page.height, Math.ceil(yb)); y++) {
        for (let x = Math.max(0, Math.floor(xa)); x < Math.min(page.width, Math.ceil(xb)); x++) {
          sum += 255 - page.data[y * page.width + x]!
          n++
        }
      }
      out[oy * CROP_WIDTH + ox] = n === 0 ? 0 : sum / n / 255
    }
  }
  return out
}

export class WordClassifier {
  private constructor (private readonly session: ort.InferenceSession) {}

  static async load (file = DEFAULT_WORD_MODEL): Promise<WordClassifier> {
    if (!existsSync(file)) throw new Error(`${file}: the word classifier for scanned pages is missing (scripts/train/words.py makes it)`)
    return new WordClassifier(await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 }))
  }

  /** What each crop (wordCrop) most likely is. */
  async classify (crops: readonly Float32Array[]): Promise<WordKind[]> {
    const out: WordKind[] = []
    const BATCH = 256
    for (let i = 0; i < crops.length; i += BATCH) {
      const batch = crops.slice(i, i + BATCH)
      const data = new Float32Array(batch.length * CROP_HEIGHT * CROP_WIDTH)
      batch.forEach((c, j) => { data.set(c, j * CROP_HEIGHT * CROP_WIDTH) })
      const r = await this.session.run({ crop: new ort.Tensor('float32', data, [batch.length, 1, CROP_HEIGHT, CROP_WIDTH]) })
      const logits = r.logit!.data as Float32Array
      for (let j = 0; j < batch.length; j++) {
        const [p, m, n] = [logits[3 * j]!, logits[3 * j + 1]!, logits[3 * j + 2]!]
        out.push(m >= p && m >= n ? WordKind.math : n >= p ? WordKind.number : WordKind.prose)
      }
    }
    return out
  }

  async release (): Promise<void> { await this.session.release() }
}

let shared: Promise<WordClassifier> | undefined

/** The shipped classifier, loaded once a process (or worker thread) and kept. */
export async function sharedWordClassifier (): Promise<WordClassifier> {
  shared ??= WordClassifier.load()
  return await shared.catch((err: unknown) => { shared = undefined; throw err })
}
