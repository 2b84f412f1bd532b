/**
 * The shipped recogniser, run with onnxruntime-node: an encoder over the
 * model canvas (memory, and each decoder block's cross-attention keys and
 * values), and a decoder step with a key/value cache (last token, position,
 * cache -> log-probabilities of the next token, grown cache) that a beam
 * search drives from here.
 *
 * The model folder holds encoder.onnx, decoder.onnx, vocab.json and
 * model.json (name, version, SHA-256 of each file, input contract).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { detokenize } from './latex/canonical.js';
import { ModelFileError } from './model-error.js';
import { canvasToTensorData, INPUT_HEIGHT, INPUT_WIDTH } from './model-input.js';

export { ModelFileError };

/** Beam scores are log-probability / length^LENGTH_ALPHA (the end token counted in the length). */
export const LENGTH_ALPHA = 0.6;

/**
 * Beam pruning margin in nats (BeamOptions.prune): a live hypothesis less than e^-2 (14 %)
 * as likely as the best one of its length is dropped. On datasets/calibration this kept
 * exact match (38.8 % unpruned, 39.0 % pruned) and edit distance (0.131, 0.130) and cut the
 * decoder rows per step from 4.9 to 2.9.
 */
export const BEAM_PRUNE = 2;

export const DEFAULT_MODEL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'texmesh-v1');

const Manifest = z.object({
  name: z.string(),
  version: z.string(),
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
  input: z.object({ height: z.literal(INPUT_HEIGHT), width: z.literal(INPUT_WIDTH) }),
  specialTokens: z.object({ pad: z.number(), bos: z.number(), eos: z.number(), unk: z.number() }),
  maxLength: z.number().int().positive(),
});
export type ModelManifest = z.infer<typeof Manifest>;

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

/** Per decoder block, its self-attention keys and values [rows, h, length, hd] so far. */
export interface DecoderCache {
  k: ort.Tensor[];
  v: ort.Tensor[];
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
   * Drop a live hypothesis whose log-probability is this far (in nats) below the best
   * one's at its step, or below the best ended one's (default BEAM_PRUNE).
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
  nextK: string[];
  nextV: string[];
}

function blockNames(blocks: number): BlockNames {
  const per = (prefix: string) => Array.from({ length: blocks }, (_, i) => `${prefix}${i}`);
  return { crossK: per('cross_k'), crossV: per('cross_v'), pastK: per('past_k'), pastV: per('past_v'), nextK: per('next_k'), nextV: per('next_v') };
}

export class Recognizer {
  private constructor(
    readonly manifest: ModelManifest,
    readonly vocab: readonly string[],
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    /** Each decoder block has its own cross-attention and cache tensors. */
    private readonly names: BlockNames,
  ) {}

  /** The model version results and votes carry. */
  get version(): string {
    return this.manifest.version;
  }

  /** Load a model folder, checking each file's SHA-256 against model.json. */
  static async load(dir = DEFAULT_MODEL_DIR, opts: RecognizerOptions = {}): Promise<Recognizer> {
    let manifest: ModelManifest;
    try {
      manifest = Manifest.parse(JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')));
    } catch (err) {
      throw new ModelFileError(`model folder ${dir}: model.json is missing or invalid (${(err as Error).message})`);
    }
    const bytes: Record<string, Buffer> = {};
    for (const [file, sha] of Object.entries(manifest.files)) {
      const b = await readFile(join(dir, file)).catch(() => {
        throw new ModelFileError(`model folder ${dir}: ${file} is missing`);
      });
      const got = createHash('sha256').update(b).digest('hex');
      if (got !== sha) throw new ModelFileError(`model folder ${dir}: ${file} has SHA-256 ${got}, model.json says ${sha}`);
      bytes[file] = b;
    }
    const need = (f: string): Buffer => {
      const b = bytes[f];
      if (!b) throw new ModelFileError(`model folder ${dir}: model.json does not list ${f}`);
      return b;
    };
    const vocab = z.array(z.string()).parse(JSON.parse(need('vocab.json').toString('utf8')));
    const sessionOpts: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
    };
    const encoder = await ort.InferenceSession.create(need('encoder.onnx'), sessionOpts);
    const decoder = await ort.InferenceSession.create(need('decoder.onnx'), sessionOpts);
    // The step interface: one cross-attention and one cache tensor per block.
    const blocks = encoder.outputNames.filter((n) => /^cross_k\d+$/.test(n)).length;
    const names = blockNames(blocks);
    const checks = [
      { what: 'encoder.onnx has outputs', got: encoder.outputNames, want: ['memory', ...names.crossK, ...names.crossV] },
      { what: 'decoder.onnx has inputs', got: decoder.inputNames, want: ['token', 'position', 'parent', ...names.crossK, ...names.crossV, ...names.pastK, ...names.pastV] },
      { what: 'decoder.onnx has outputs', got: decoder.outputNames, want: ['logprobs', ...names.nextK, ...names.nextV] },
    ];
    for (const c of checks) {
      if (blocks === 0 || [...c.got].sort().join() !== [...c.want].sort().join()) {
        await encoder.release();
        await decoder.release();
        throw new ModelFileError(`model folder ${dir}: ${c.what} ${c.got.join(', ')}; this version of texmesh needs ${c.want.join(', ')}`);
      }
    }
    return new Recognizer(manifest, vocab, encoder, decoder, names);
  }

  /**
   * Encode canvases (ink 0..255, INPUT_HEIGHT x INPUT_WIDTH each): per image,
   * its memory [1, S, D] and its cross-attention keys and values for every
   * decoder block, which each decoder step reuses. The encoder takes one image
   * per run: its shapes are fixed, so none of its graph is shape arithmetic,
   * and on a CPU a batch of regions took as long as the regions one by one.
   */
  async encode(canvases: readonly Uint8Array[]): Promise<Encoded[]> {
    const size = INPUT_HEIGHT * INPUT_WIDTH;
    const out: Encoded[] = [];
    for (const [i, c] of canvases.entries()) {
      if (c.length !== size) throw new Error(`canvas ${i} has ${c.length} pixels, expected ${size}`);
      const r = await this.encoder.run({ image: new ort.Tensor('float32', canvasToTensorData(c), [1, 1, INPUT_HEIGHT, INPUT_WIDTH]) });
      out.push({ memory: r.memory!, crossK: this.names.crossK.map((n) => r[n]!), crossV: this.names.crossV.map((n) => r[n]!) });
    }
    return out;
  }

  /** An empty key/value cache for `rows` hypotheses of one image. */
  emptyCache(image: Encoded, rows = 1): DecoderCache {
    const [, heads, headDim] = image.crossK[0]!.dims as [number, number, number, number];
    const empty = () => this.names.pastK.map(() => new ort.Tensor('float32', new Float32Array(0), [rows, heads, 0, headDim]));
    return { k: empty(), v: empty(), length: 0 };
  }

  /**
   * One decoder step for `tokens.length` rows of one image, all at position
   * `cache.length`: row i continues cache row `parents[i]` with `tokens[i]`
   * (by default row i, or row 0 of a one-row cache). Gives the
   * log-probabilities of the next token per row, and the cache of the rows
   * grown by this step.
   */
  async step(image: Encoded, tokens: readonly number[], cache: DecoderCache, parents?: readonly number[]): Promise<{ logprobs: Float32Array[]; cache: DecoderCache }> {
    const n = tokens.length;
    const rows = cache.k[0]!.dims[0]!;
    const from = parents ?? tokens.map((_, i) => (rows === 1 ? 0 : i));
    if (from.length !== n || from.some((p) => !Number.isInteger(p) || p < 0 || p >= rows)) {
      throw new RangeError(`parents ${from.join(',')} for ${n} rows of a ${rows}-row cache`);
    }
    const feeds: Record<string, ort.Tensor> = {
      token: new ort.Tensor('int64', BigInt64Array.from(tokens, (t) => BigInt(t)), [n]),
      position: new ort.Tensor('int64', BigInt64Array.of(BigInt(cache.length)), [1]),
      parent: new ort.Tensor('int64', BigInt64Array.from(from, (p) => BigInt(p)), [n]),
    };
    const { crossK, crossV, pastK, pastV } = this.names;
    crossK.forEach((name, i) => {
      feeds[name] = image.crossK[i]!;
      feeds[crossV[i]!] = image.crossV[i]!;
      feeds[pastK[i]!] = cache.k[i]!;
      feeds[pastV[i]!] = cache.v[i]!;
    });
    const out = await this.decoder.run(feeds);
    const lp = out.logprobs!.data as Float32Array;
    const v = this.vocab.length;
    return {
      logprobs: tokens.map((_, i) => lp.subarray(i * v, (i + 1) * v)),
      cache: { k: this.names.nextK.map((n) => out[n]!), v: this.names.nextV.map((n) => out[n]!), length: cache.length + 1 },
    };
  }

  /** Beam search over one encoded image: hypotheses best first. */
  async beamSearch(image: Encoded, opts: BeamOptions = {}): Promise<Hypothesis[]> {
    const width = Math.max(1, opts.beam ?? 5);
    const maxLength = Math.min(opts.maxLength ?? this.manifest.maxLength, this.manifest.maxLength - 1);
    const alpha = opts.lengthAlpha ?? LENGTH_ALPHA;
    const prune = opts.prune ?? BEAM_PRUNE;
    const { bos, eos, pad, unk } = this.manifest.specialTokens;
    const norm = (lp: number, len: number) => lp / Math.pow(Math.max(1, len), alpha);
    /** A live hypothesis: its tokens, log-probability, and its row in the decoder cache. */
    let alive: { ids: number[]; logprob: number; row: number }[] = [{ ids: [bos], logprob: 0, row: 0 }];
    let cache = this.emptyCache(image);
    const done: { ids: number[]; logprob: number; score: number }[] = [];
    const topIds = new Int32Array(width);
    const topLps = new Float64Array(width);
    for (let len = 1; len <= maxLength + 1 && alive.length > 0; len++) {
      const stepped = await this.step(
        image,
        alive.map((h) => h.ids[h.ids.length - 1]!),
        cache,
        alive.map((h) => h.row),
      );
      cache = stepped.cache;
      const cand: { parent: number; token: number; logprob: number }[] = [];
      alive.forEach((h, i) => {
        const lp = stepped.logprobs[i]!;
        // The top `width` tokens of each row are enough to fill the next beam (kept sorted by insertion).
        let k = 0;
        for (let v = 0; v < lp.length; v++) {
          const x = lp[v]!;
          if ((k === width && x <= topLps[width - 1]!) || v === pad || v === bos || v === unk) continue;
          let j = k < width ? k++ : width - 1;
          while (j > 0 && topLps[j - 1]! < x) {
            topLps[j] = topLps[j - 1]!;
            topIds[j] = topIds[j - 1]!;
            j--;
          }
          topLps[j] = x;
          topIds[j] = v;
        }
        for (let j = 0; j < k; j++) cand.push({ parent: i, token: topIds[j]!, logprob: h.logprob + topLps[j]! });
      });
      cand.sort((a, b) => b.logprob - a.logprob);
      // A live hypothesis far less likely than the best one of the same length is dropped: it
      // would end as an alternative too unlikely to matter, and each live row costs a decoder
      // row at every step. (Not against ended ones: scores are length-normalised, so a
      // hypothesis behind a shorter one may still overtake it.)
      const floor = (cand.find((c) => c.token !== eos)?.logprob ?? -Infinity) - prune;
      const next: typeof alive = [];
      for (const c of cand) {
        const ids = [...alive[c.parent]!.ids, c.token];
        if (c.token === eos || len > maxLength) {
          done.push({ ids, logprob: c.logprob, score: norm(c.logprob, ids.length - 1) });
        } else if (next.length < width && c.logprob >= floor) {
          next.push({ ids, logprob: c.logprob, row: c.parent });
        }
        if (next.length >= width && done.length >= width) break;
      }
      alive = next;
      // Stop once `width` hypotheses have ended and the best live one, scored at its
      // current length, no longer beats the worst of them (the usual beam-search rule:
      // log-probabilities only fall as a hypothesis grows).
      if (done.length >= width) {
        done.sort((a, b) => b.score - a.score);
        done.length = width;
        const worst = done[width - 1]!.score;
        const bestAlive = alive.reduce((m, h) => Math.max(m, h.logprob), -Infinity);
        if (norm(bestAlive, len) <= worst) break;
      }
    }
    done.sort((a, b) => b.score - a.score);
    return done.slice(0, width).map((h) => {
      const ids = h.ids.slice(1).filter((v) => v !== eos);
      const tokens = ids.map((v) => this.vocab[v] ?? '');
      return { tokens, latex: detokenize(tokens), logprob: h.logprob, score: h.score };
    });
  }

  /** Recognise canvases, one after another: hypotheses best first, per canvas. */
  async recognize(canvases: readonly Uint8Array[], opts: BeamOptions = {}): Promise<Hypothesis[][]> {
    const out: Hypothesis[][] = [];
    for (const image of await this.encode(canvases)) out.push(await this.beamSearch(image, opts));
    return out;
  }

  async release(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}
