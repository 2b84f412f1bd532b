/**
 * The shipped recogniser, run with onnxruntime-node: an encoder over the
 * model canvas, and a decoder step (memory, tokens so far -> log-probabilities
 * of the next token) that a beam search drives from here.
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
import { canvasToTensorData, INPUT_HEIGHT, INPUT_WIDTH } from './model-input.js';

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

export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

export interface Hypothesis {
  tokens: string[];
  latex: string;
  /** Sum of token log-probabilities, end token included. */
  logprob: number;
  /** Length-normalised score used for ranking. */
  score: number;
}

export interface BeamOptions {
  /** Beam width; 1 is greedy decoding. */
  beam?: number;
  /** Longest output in tokens (the model's limit when not given). */
  maxLength?: number;
  /** Length normalisation exponent: score = logprob / length^alpha. */
  lengthAlpha?: number;
}

export interface RecognizerOptions {
  /** onnxruntime intra-op threads (default: onnxruntime's own choice). */
  threads?: number;
}

export class Recognizer {
  private constructor(
    readonly manifest: ModelManifest,
    readonly vocab: readonly string[],
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
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
    const sessionOpts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
    if (opts.threads) {
      sessionOpts.intraOpNumThreads = opts.threads;
      sessionOpts.interOpNumThreads = 1;
    }
    const encoder = await ort.InferenceSession.create(need('encoder.onnx'), sessionOpts);
    const decoder = await ort.InferenceSession.create(need('decoder.onnx'), sessionOpts);
    return new Recognizer(manifest, vocab, encoder, decoder);
  }

  /** Encoder memory for a batch of canvases (ink 0..255, INPUT_HEIGHT x INPUT_WIDTH each). */
  async encode(canvases: readonly Uint8Array[]): Promise<ort.Tensor> {
    const size = INPUT_HEIGHT * INPUT_WIDTH;
    const data = new Float32Array(canvases.length * size);
    canvases.forEach((c, i) => {
      if (c.length !== size) throw new Error(`canvas ${i} has ${c.length} pixels, expected ${size}`);
      data.set(canvasToTensorData(c), i * size);
    });
    const out = await this.encoder.run({ image: new ort.Tensor('float32', data, [canvases.length, 1, INPUT_HEIGHT, INPUT_WIDTH]) });
    return out.memory!;
  }

  /** Log-probabilities of the next token for each row of `tokens`, all over one image's memory. */
  async step(memory: ort.Tensor, rows: readonly number[][]): Promise<Float32Array[]> {
    const n = rows.length;
    const t = rows[0]!.length;
    const [, s, d] = memory.dims as [number, number, number];
    const one = memory.data as Float32Array;
    const mem = new Float32Array(n * s * d);
    for (let i = 0; i < n; i++) mem.set(one.subarray(0, s * d), i * s * d);
    const tok = new BigInt64Array(n * t);
    rows.forEach((r, i) => r.forEach((v, j) => (tok[i * t + j] = BigInt(v))));
    const out = await this.decoder.run({
      memory: new ort.Tensor('float32', mem, [n, s, d]),
      tokens: new ort.Tensor('int64', tok, [n, t]),
    });
    const lp = out.logprobs!.data as Float32Array;
    const v = this.vocab.length;
    return rows.map((_, i) => lp.subarray(i * v, (i + 1) * v));
  }

  /** Beam search over one image's memory [1, S, D]: hypotheses best first. */
  async beamSearch(memory: ort.Tensor, opts: BeamOptions = {}): Promise<Hypothesis[]> {
    const width = Math.max(1, opts.beam ?? 5);
    const maxLength = Math.min(opts.maxLength ?? this.manifest.maxLength, this.manifest.maxLength - 1);
    const alpha = opts.lengthAlpha ?? 0.6;
    const { bos, eos, pad, unk } = this.manifest.specialTokens;
    const norm = (lp: number, len: number) => lp / Math.pow(Math.max(1, len), alpha);
    let alive: { ids: number[]; logprob: number }[] = [{ ids: [bos], logprob: 0 }];
    const done: { ids: number[]; logprob: number; score: number }[] = [];
    for (let len = 1; len <= maxLength + 1 && alive.length > 0; len++) {
      const lps = await this.step(memory, alive.map((h) => h.ids));
      const cand: { ids: number[]; logprob: number; end: boolean }[] = [];
      alive.forEach((h, i) => {
        const lp = lps[i]!;
        // The top `width` tokens of each beam are enough to fill the next beam.
        const top: number[] = [];
        for (let v = 0; v < lp.length; v++) {
          if (v === pad || v === bos || v === unk) continue;
          if (top.length < width) {
            top.push(v);
            top.sort((a, b) => lp[b]! - lp[a]!);
          } else if (lp[v]! > lp[top[width - 1]!]!) {
            top[width - 1] = v;
            top.sort((a, b) => lp[b]! - lp[a]!);
          }
        }
        for (const v of top) cand.push({ ids: [...h.ids, v], logprob: h.logprob + lp[v]!, end: v === eos || len > maxLength });
      });
      cand.sort((a, b) => b.logprob - a.logprob);
      alive = [];
      for (const c of cand) {
        if (c.end) {
          done.push({ ids: c.ids, logprob: c.logprob, score: norm(c.logprob, c.ids.length - 1) });
        } else if (alive.length < width) {
          alive.push(c);
        }
        if (alive.length >= width && done.length >= width) break;
      }
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

  /** Recognise canvases: hypotheses best first, per canvas. */
  async recognize(canvases: readonly Uint8Array[], opts: BeamOptions = {}): Promise<Hypothesis[][]> {
    const memory = await this.encode(canvases);
    const [b, s, d] = memory.dims as [number, number, number];
    const all = memory.data as Float32Array;
    const out: Hypothesis[][] = [];
    for (let i = 0; i < b; i++) {
      const one = new ort.Tensor('float32', all.slice(i * s * d, (i + 1) * s * d), [1, s, d]);
      out.push(await this.beamSearch(one, opts));
    }
    return out;
  }

  async release(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}
