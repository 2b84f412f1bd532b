/**
 * The shipped recogniser, run with onnxruntime-node: an encoder over the
 * model canvas (memory, and each decoder block's cross-attention keys and
 * values), and a decoder step (last token, position, which cached keys and
 * values each row attends to -> log-probabilities of the next token, and
 * this step's keys and values) that a beam search drives from here. The
 * key/value cache is kept here, in slots the decoder reads without a copy.
 *
 * The model folder holds encoder.onnx, decoder.onnx, vocab.json and
 * model.json (name, version, SHA-256 of each file, input contract).
 */
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as ort from 'onnxruntime-node'
import { z } from 'zod'
import { detokenize } from './latex/canonical.js'
import { ModelFileError } from './model-error.js'
import { canvasToTensorData, COL_STEP, INPUT_HEIGHT, INPUT_WIDTH, ROW_STEP, type Canvas, type GlyphGeometry } from './model-input.js'
import { SHA256_HEX, sha256Hex } from '../util/sha256.js'
import { beamSearch, type BeamStep } from './beam.js'

export { ModelFileError }

/** Beam scores are log-probability / length^LENGTH_ALPHA (the end token counted in the length). */
export const LENGTH_ALPHA = 0.6

/**
 * Beam pruning margin in nats (BeamOptions.prune): a live hypothesis less than e^-2 (14 %)
 * as likely as the best one of its length is dropped. On datasets/calibration this kept
 * exact match (38.8 % unpruned, 39.0 % pruned) and edit distance (0.131, 0.130) and cut the
 * decoder rows per step from 4.9 to 2.9.
 */
export const BEAM_PRUNE = 2

/** Positions a new cache has room for; most formulas are shorter (the cache grows for the others). */
const INITIAL_CACHE_POSITIONS = 64

/** Caches a recogniser keeps for its next searches: one per search that may run at once. */
const MAX_SPARE_CACHES = 4

/** The widest cache kept for later searches (wider beams allocate their own each time). */
const MAX_SPARE_WIDTH = 16

export const DEFAULT_MODEL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'texmesh-v2')

const Manifest = z.object({
  name: z.string(),
  version: z.string(),
  files: z.record(z.string(), z.string().regex(SHA256_HEX)),
  // v1: every formula scaled to fit one 64 x 512 canvas; v2: glyphs of one size on a canvas as wide as the formula.
  input: z.union([
    z.object({ height: z.literal(INPUT_HEIGHT), width: z.literal(INPUT_WIDTH) }),
    z.object({
      geometry: z.literal('glyph'),
      glyph: z.number().positive(),
      maxHeight: z.number().int().positive().multipleOf(ROW_STEP),
      maxWidth: z.number().int().positive().multipleOf(COL_STEP),
    }),
  ]),
  specialTokens: z.object({ pad: z.number(), bos: z.number(), eos: z.number(), unk: z.number() }),
  maxLength: z.number().int().positive(),
})
export type ModelManifest = z.infer<typeof Manifest>

/** The model's input geometry: glyph-normalised (v2), or null for v1's fixed 64 x 512 canvas. */
export function glyphGeometry (m: ModelManifest): GlyphGeometry | null {
  return 'geometry' in m.input ? { glyph: m.input.glyph, maxHeight: m.input.maxHeight, maxWidth: m.input.maxWidth } : null
}

export interface Hypothesis {
  tokens: string[];
  latex: string;
  /** Sum of token log-probabilities, end token included. */
  logprob: number;
  /** Length-normalised score used for ranking. */
  score: number;
}

/** One image as the decoder sees it (from Recognizer.encode). */
export interface Encoded {
  /** Encoder output [1, S, D]. */
  memory: ort.Tensor;
  /** Per decoder block, its cross-attention keys [1, h, hd, S] (transposed) and values [1, h, S, hd]. */
  crossK: ort.Tensor[];
  crossV: ort.Tensor[];
}

/**
 * The decoder's self-attention keys and values so far: per block, room for
 * `capacity` positions of `width` slots of D floats each. Slot `p * width + r`
 * holds what row r of the step at position p computed. A step past the room
 * there is makes more (up to the model's longest output).
 */
export interface DecoderCache {
  k: Float32Array[];
  v: Float32Array[];
  /** Slots per position: the most rows a step may have. */
  width: number;
  /** Positions there is room for now. */
  capacity: number;
  /** Positions written so far (the next step's position). */
  length: number;
}

export interface BeamOptions {
  /** Beam width; 1 is greedy decoding. */
  beam?: number;
  /** Longest output in tokens (the model's limit when not given). */
  maxLength?: number;
  /** Length normalisation exponent: score = logprob / length^alpha. */
  lengthAlpha?: number;
  /**
   * Drop a live hypothesis whose log-probability is this far (in nats, >= 0) below the
   * best live one's of the same length (default BEAM_PRUNE; Infinity keeps every one).
   */
  prune?: number;
}

export interface RecognizerOptions {
  /**
   * onnxruntime intra-op threads (default 1). The model's operators are small: on
   * two cores one image took 46 ms on one thread and 78 ms on two (bench:ocr), so
   * a machine's cores are better used by recognising images side by side.
   */
  threads?: number;
}

/** The per-block tensor names of the step interface (README, "The model contract"), made once per model. */
interface BlockNames {
  crossK: string[];
  crossV: string[];
  pastK: string[];
  pastV: string[];
  newK: string[];
  newV: string[];
}

function blockNames (blocks: number): BlockNames {
  const per = (prefix: string) => Array.from({ length: blocks }, (_, i) => `${prefix}${i}`)
  return { crossK: per('cross_k'), crossV: per('cross_v'), pastK: per('past_k'), pastV: per('past_v'), newK: per('new_k'), newV: per('new_v') }
}

export class Recognizer {
  private constructor (
    readonly manifest: ModelManifest,
    readonly vocab: readonly string[],
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    /** Each decoder block has its own cross-attention and cache tensors. */
    private readonly names: BlockNames,
    /** Width of the model's keys and values (D). */
    private readonly dim: number
  ) {}

  /** Caches of finished searches, for the next ones (takeCache). */
  private readonly spareCaches: DecoderCache[] = []

  /** The model version results and votes carry. */
  get version (): string {
    return this.manifest.version
  }

  /** Load a model folder, checking each file's SHA-256 against model.json. */
  static async load (dir = DEFAULT_MODEL_DIR, opts: RecognizerOptions = {}): Promise<Recognizer> {
    let manifest: ModelManifest
    try {
      manifest = Manifest.parse(JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')))
    } catch (err) {
      throw new ModelFileError(`model folder ${dir}: model.json is missing or invalid (${(err as Error).message})`)
    }
    const bytes: Record<string, Buffer> = {}
    for (const [file, sha] of Object.entries(manifest.files)) {
      const b = await readFile(join(dir, file)).catch(() => {
        throw new ModelFileError(`model folder ${dir}: ${file} is missing`)
      })
      const got = sha256Hex(b)
      if (got !== sha) throw new ModelFileError(`model folder ${dir}: ${file} has SHA-256 ${got}, model.json says ${sha}`)
      bytes[file] = b
    }
    const need = (f: string): Buffer => {
      const b = bytes[f]
      if (!b) throw new ModelFileError(`model folder ${dir}: model.json does not list ${f}`)
      return b
    }
    const vocab = z.array(z.string()).parse(JSON.parse(need('vocab.json').toString('utf8')))
    // onnxruntime-node 1.30's Linux library carries a telemetry client that leaves an empty
    // /tmp/mat-debug-<pid>.log behind every process; it reads this switch when the first session is made.
    if (!process.env.ORT_DISABLE_TELEMETRY) process.env.ORT_DISABLE_TELEMETRY = '1'
    const sessionOpts: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
    }
    const encoder = await ort.InferenceSession.create(need('encoder.onnx'), sessionOpts)
    const decoder = await ort.InferenceSession.create(need('decoder.onnx'), sessionOpts)
    // The step interface: one cross-attention and one cache tensor per block.
    const blocks = encoder.outputNames.filter((n) => /^cross_k\d+$/.test(n)).length
    const names = blockNames(blocks)
    const checks = [
      { what: 'encoder.onnx has outputs', got: encoder.outputNames, want: ['memory', ...names.crossK, ...names.crossV] },
      { what: 'decoder.onnx has inputs', got: decoder.inputNames, want: ['token', 'position', 'history', ...names.crossK, ...names.crossV, ...names.pastK, ...names.pastV] },
      { what: 'decoder.onnx has outputs', got: decoder.outputNames, want: ['logprobs', ...names.newK, ...names.newV] },
    ]
    for (const c of checks) {
      if (blocks === 0 || [...c.got].sort().join() !== [...c.want].sort().join()) {
        await encoder.release()
        await decoder.release()
        throw new ModelFileError(`model folder ${dir}: ${c.what} ${c.got.join(', ')}; this version of texmesh needs ${c.want.join(', ')}`)
      }
    }
    const meta = decoder.inputMetadata.find((m) => m.name === names.pastK[0])
    const dim = meta?.isTensor ? meta.shape[1] : undefined
    if (typeof dim !== 'number' || dim < 1) {
      await encoder.release()
      await decoder.release()
      throw new ModelFileError(`model folder ${dir}: decoder.onnx's ${names.pastK[0]} has no fixed width`)
    }
    return new Recognizer(manifest, vocab, encoder, decoder, names, dim)
  }

  /**
   * Encode canvases (ink 0..255): per image, its memory [1, S, D] and its cross-attention keys
   * and values for every decoder block, which each decoder step reuses. A v1 model takes
   * INPUT_HEIGHT x INPUT_WIDTH canvases (a bare Uint8Array is one); a v2 model takes canvases
   * of any size within its manifest's, in steps of ROW_STEP x COL_STEP. The encoder takes one
   * image per run: on a CPU a batch of regions took as long as the regions one by one.
   */
  async encode (canvases: readonly (Uint8Array | Canvas)[]): Promise<Encoded[]> {
    const glyph = glyphGeometry(this.manifest)
    const out: Encoded[] = []
    for (const [i, item] of canvases.entries()) {
      const c: Canvas = item instanceof Uint8Array ? { data: item, height: INPUT_HEIGHT, width: INPUT_WIDTH } : item
      if (c.data.length !== c.height * c.width) throw new Error(`canvas ${i} has ${c.data.length} pixels, not ${c.height} x ${c.width}`)
      if (glyph == null
        ? c.height !== INPUT_HEIGHT || c.width !== INPUT_WIDTH
        : c.height % ROW_STEP !== 0 || c.width % COL_STEP !== 0 || c.height > glyph.maxHeight || c.width > glyph.maxWidth || c.height === 0 || c.width === 0) {
        const want = glyph == null ? `${INPUT_HEIGHT} x ${INPUT_WIDTH}` : `multiples of ${ROW_STEP} x ${COL_STEP} up to ${glyph.maxHeight} x ${glyph.maxWidth}`
        throw new Error(`canvas ${i} is ${c.height} x ${c.width}; this model reads ${want}`)
      }
      const r = await this.encoder.run({ image: new ort.Tensor('float32', canvasToTensorData(c.data), [1, 1, c.height, c.width]) })
      out.push({ memory: r.memory!, crossK: this.names.crossK.map((n) => r[n]!), crossV: this.names.crossV.map((n) => r[n]!) })
    }
    return out
  }

  /** An empty key/value cache for steps of up to `width` rows, with room for `capacity` positions to begin with. */
  emptyCache (width = 1, capacity = INITIAL_CACHE_POSITIONS): DecoderCache {
    const size = width * capacity * this.dim
    const blocks = () => this.names.pastK.map(() => new Float32Array(size))
    return { k: blocks(), v: blocks(), width, capacity, length: 0 }
  }

  /** Make room for at least `positions` positions (doubling, up to the model's longest output). */
  private grow (cache: DecoderCache, positions: number): void {
    const limit = this.manifest.maxLength
    if (positions > limit) throw new RangeError(`the cache holds at most ${limit} positions (the model's longest output)`)
    if (positions <= cache.capacity) return
    const capacity = Math.min(limit, Math.max(positions, 2 * cache.capacity))
    const more = (old: Float32Array) => {
      const b = new Float32Array(cache.width * capacity * this.dim)
      b.set(old.subarray(0, cache.length * cache.width * this.dim))
      return b
    }
    cache.k = cache.k.map(more)
    cache.v = cache.v.map(more)
    cache.capacity = capacity
  }

  /**
   * One decoder step for `tokens.length` rows of one image, all at position
   * `cache.length`: row i attends to the slots `history[i]` (one per earlier
   * position; by default slot `p * width + i` at each position p, the rows
   * staying in place). Gives the log-probabilities of the next token per row;
   * row i's keys and values go to slot `cache.length * width + i`, and the
   * cache grows by one position.
   */
  async step (image: Encoded, tokens: readonly number[], cache: DecoderCache, history?: readonly (readonly number[])[]): Promise<Float32Array[]> {
    const n = tokens.length
    const t = cache.length
    const { width } = cache
    if (n === 0 || n > width) throw new RangeError(`${n} rows for a cache of width ${width}`)
    const slots = new BigInt64Array(n * t)
    for (let i = 0; i < n; i++) {
      const h = history?.[i]
      if (history && (!h || h.length !== t)) throw new RangeError(`row ${i} names ${h?.length ?? 0} earlier slots, not ${t}`)
      for (let p = 0; p < t; p++) {
        const slot = h ? h[p]! : p * width + i
        if (!Number.isInteger(slot) || slot < p * width || slot >= (p + 1) * width) throw new RangeError(`row ${i}: slot ${slot} is not one of position ${p}`)
        slots[i * t + p] = BigInt(slot)
      }
    }
    this.grow(cache, t + 1)
    const d = this.dim
    const used = t * width
    const feeds: Record<string, ort.Tensor> = {
      token: new ort.Tensor('int64', BigInt64Array.from(tokens, (x) => BigInt(x)), [n]),
      position: new ort.Tensor('int64', BigInt64Array.of(BigInt(t)), [1]),
      history: new ort.Tensor('int64', slots, [n, t]),
    }
    const { crossK, crossV, pastK, pastV, newK, newV } = this.names
    crossK.forEach((name, i) => {
      feeds[name] = image.crossK[i]!
      feeds[crossV[i]!] = image.crossV[i]!
      // Views of the slots written so far: onnxruntime reads them where they are.
      feeds[pastK[i]!] = new ort.Tensor('float32', cache.k[i]!.subarray(0, used * d), [used, d])
      feeds[pastV[i]!] = new ort.Tensor('float32', cache.v[i]!.subarray(0, used * d), [used, d])
    })
    const out = await this.decoder.run(feeds)
    newK.forEach((name, i) => {
      cache.k[i]!.set(out[name]!.data as Float32Array, used * d)
      cache.v[i]!.set(out[newV[i]!]!.data as Float32Array, used * d)
    })
    cache.length = t + 1
    const lp = out.logprobs!.data as Float32Array
    const v = this.vocab.length
    return tokens.map((_, i) => lp.subarray(i * v, (i + 1) * v))
  }

  /** Beam search over one encoded image (pipeline/beam.ts) on the decoder and a cache its rows share by slot: hypotheses best first. */
  async beamSearch (image: Encoded, opts: BeamOptions = {}): Promise<Hypothesis[]> {
    const width = Math.max(1, Math.floor(opts.beam ?? 5))
    const { bos, eos, pad, unk } = this.manifest.specialTokens
    const cache = this.takeCache(width)
    try {
      // Each row's cache slots, one per position so far: a row goes on from its parent, whose keys
      // and values the step before put in slot (that step's position, parent row).
      let before: { position: number, slots: number[][] } | undefined
      const step: BeamStep = async (tokens, parents) => {
        const slots = parents.map(p => before == null ? [] : [...before.slots[p]!, before.position * cache.width + p])
        const position = cache.length
        const out = await this.step(image, tokens, cache, slots)
        before = { position, slots }
        return out
      }
      const found = await beamSearch(step, {
        width,
        maxLength: Math.min(opts.maxLength ?? this.manifest.maxLength, this.manifest.maxLength - 1),
        alpha: opts.lengthAlpha ?? LENGTH_ALPHA,
        prune: opts.prune ?? BEAM_PRUNE,
        bos,
        eos,
        never: [pad, bos, unk]
      })
      return found.map((h) => {
        const tokens = h.ids.map((v) => this.vocab[v] ?? '')
        return { tokens, latex: detokenize(tokens), logprob: h.logprob, score: h.score }
      })
    } finally {
      this.giveCache(cache)
    }
  }

  /**
   * A cleared cache of at least `width` slots per position, from those earlier
   * searches gave back: searches of one recogniser may interleave (each awaits
   * every step), so each has its own, and a process does not allocate and
   * collect megabytes per image.
   */
  private takeCache (width: number): DecoderCache {
    let best = -1
    this.spareCaches.forEach((c, i) => {
      if (c.width >= width && (best < 0 || c.width < this.spareCaches[best]!.width)) best = i
    })
    const cache = best >= 0 ? this.spareCaches.splice(best, 1)[0]! : this.emptyCache(width)
    cache.length = 0
    return cache
  }

  private giveCache (cache: DecoderCache): void {
    // A cache for an unusually wide beam is not kept: it is large, and rarely wanted again.
    if (this.spareCaches.length < MAX_SPARE_CACHES && cache.width <= MAX_SPARE_WIDTH) this.spareCaches.push(cache)
  }

  /** Recognise canvases, one after another: hypotheses best first, per canvas. */
  async recognize (canvases: readonly (Uint8Array | Canvas)[], opts: BeamOptions = {}): Promise<Hypothesis[][]> {
    const out: Hypothesis[][] = []
    for (const image of await this.encode(canvases)) out.push(await this.beamSearch(image, opts))
    return out
  }

  async release (): Promise<void> {
    await this.encoder.release()
    await this.decoder.release()
  }
}
