import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { cp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { INPUT_HEIGHT, INPUT_WIDTH, type Canvas } from '../pipeline/model-input.js'
import { canonicalTokens } from '../pipeline/latex/canonical.js'
import { beamSearch, type BeamStep } from '../pipeline/beam.js'
import { BEAM_PRUNE, DEFAULT_MODEL_DIR, LENGTH_ALPHA, ModelFileError, Recognizer, type Encoded, type Hypothesis } from '../pipeline/recognizer.js'
import { calibrate, loadShippedCurve } from '../pipeline/confidence.js'
import { OcrPipeline } from '../pipeline/ocr.js'
import { CLI, collect, removeDir, tempDir } from './helpers.js'
import { spawn } from 'node:child_process'

interface Parity {
  images: string[];
  /** v2: each sample canvas's [height, width] */
  shapes?: number[][];
  greedy: number[][];
  memory_sum: number[];
  first_logprobs: number[][];
  /** per image, the log-probability of each greedy token and then the end token, at its step */
  greedy_path_logprobs: number[][];
  /** How far onnxruntime's first-step log-probabilities may be from PyTorch's (the shipped decoder is int8). */
  first_logprobs_tolerance: number;
}

const ROOT = join(DEFAULT_MODEL_DIR, '..', '..')

describe('the shipped model in onnxruntime-node', () => {
  let model: Recognizer
  let parity: Parity
  let canvases: (Uint8Array | Canvas)[]

  before(async () => {
    model = await Recognizer.load()
    parity = JSON.parse(await readFile(join(DEFAULT_MODEL_DIR, 'parity.json'), 'utf8')) as Parity
    // A v1 model's samples are 64 x 512 canvases; a v2 model's carry their shapes.
    canvases = parity.images.map((b, i) => {
      const data = new Uint8Array(Buffer.from(b, 'base64'))
      const shape = parity.shapes?.[i]
      return shape ? { data, height: shape[0]!, width: shape[1]! } : data
    })
  })
  after(async () => {
    await model.release()
  })

  it('loads with its files checked against model.json', () => {
    assert.match(model.version, /^texmesh-v\d+\+[0-9a-f]{16}$/)
    assert.ok(model.vocab.length > 100)
    for (const c of canvases) {
      if (c instanceof Uint8Array) assert.equal(c.length, INPUT_HEIGHT * INPUT_WIDTH)
      else assert.equal(c.data.length, c.height * c.width)
    }
  })

  it('matches PyTorch on the export samples: encoder memory, first step, greedy decoding with the cache', async () => {
    const encoded = await model.encode(canvases)
    assert.equal(encoded.length, canvases.length)
    encoded.forEach((e, i) => {
      const sum = (e.memory.data as Float32Array).reduce((a, x) => a + x, 0)
      assert.ok(Math.abs(sum - parity.memory_sum[i]!) < 1e-2 * Math.max(1, Math.abs(sum)), `memory sum ${sum} vs ${parity.memory_sum[i]}`)
    })
    const { bos } = model.manifest.specialTokens
    for (let i = 0; i < encoded.length; i++) {
      // PyTorch decoded without a cache; the exported step uses one.
      const one = (await model.recognize([canvases[i]!], { beam: 1 }))[0]![0]!
      assert.deepEqual(one.tokens, parity.greedy[i]!.map((t) => model.vocab[t]))
      const [lp] = await model.step(encoded[i]!, [bos], model.emptyCache())
      const want = parity.first_logprobs[i]!
      let worst = 0
      want.forEach((w, k) => (worst = Math.max(worst, Math.abs(w - lp![k]!))))
      assert.ok(parity.first_logprobs_tolerance <= 0.25, `a parity tolerance of ${parity.first_logprobs_tolerance} is too loose to check anything`)
      assert.ok(worst < parity.first_logprobs_tolerance, `first-step log-probabilities differ by ${worst}`)
    }
  })

  it('follows PyTorch step by step along the greedy path, through its key/value cache', async () => {
    const encoded = await model.encode(canvases)
    const { bos, eos } = model.manifest.specialTokens
    for (let i = 0; i < encoded.length; i++) {
      const path = [...parity.greedy[i]!, eos].slice(0, parity.greedy_path_logprobs[i]!.length)
      assert.ok(path.length > 10, 'a path long enough to exercise the cache')
      // Room for 4 positions to begin with: the cache grows on the way, keeping what it holds.
      const cache = model.emptyCache(1, 4)
      let prev = bos
      let worst = 0
      for (const [k, token] of path.entries()) {
        const [lp] = await model.step(encoded[i]!, [prev], cache)
        worst = Math.max(worst, Math.abs(lp![token]! - parity.greedy_path_logprobs[i]![k]!))
        prev = token
      }
      assert.equal(cache.length, path.length)
      assert.ok(cache.capacity >= path.length && cache.capacity > 4)
      assert.ok(worst < parity.first_logprobs_tolerance, `image ${i}: a step's log-probability differs from PyTorch's by ${worst}`)
    }
  })

  it('attends to the cache slots each row names, and to no others', async () => {
    const [image] = await model.encode([canvases[0]!])
    const { bos } = model.manifest.specialTokens
    const [a1, a2] = parity.greedy[0]!
    const [b1, b2] = [10, 11]
    // Each path alone, one row at a time.
    const alone = async (path: number[]): Promise<Float32Array> => {
      const cache = model.emptyCache()
      let lp: Float32Array | undefined
      for (const t of path) [lp] = await model.step(image!, [t], cache)
      return lp!
    }
    const pathA = await alone([bos, a1!, a2!])
    const pathB = await alone([bos, b1, b2])
    // Both paths side by side in a cache three slots wide (slot = position * 3 + row), then
    // in another order, one of them twice. Slot 0 is <bos>; 3 and 4 are a1 and b1.
    const cache = model.emptyCache(3)
    await model.step(image!, [bos], cache)
    await model.step(image!, [a1!, b1], cache, [[0], [0]])
    const third = await model.step(image!, [b2, a2!, b2], cache, [[0, 4], [0, 3], [0, 4]])
    assert.equal(cache.length, 3)
    const worst = (x: Float32Array, y: Float32Array): number => x.reduce((m, v, k) => Math.max(m, Math.abs(v - y[k]!)), 0)
    const argmax = (x: Float32Array): number => x.reduce((best, v, k) => (v > x[best]! ? k : best), 0)
    // The two paths read differently, so a row that attended to the other's slots would show.
    assert.ok(worst(pathA, pathB) > 1, `the two paths differ by only ${worst(pathA, pathB)}`)
    for (const [row, want] of [[0, pathB], [1, pathA], [2, pathB]] as const) {
      const got = third[row]!
      assert.equal(argmax(got), argmax(want), `row ${row}`)
      // int8 activations are quantized with one scale for all the rows of a step.
      assert.ok(worst(got, want) < parity.first_logprobs_tolerance, `row ${row} differs by ${worst(got, want)}`)
    }
    // A slot of another position, too many rows, a short history: refused before the model runs.
    await assert.rejects(model.step(image!, [a1!], cache, [[0, 4, 5]]), /slot 5 is not one of position 2/)
    await assert.rejects(model.step(image!, [1, 2, 3, 4], cache), /4 rows for a cache of width 3/)
    await assert.rejects(model.step(image!, [a1!], cache, [[0, 4]]), /names 2 earlier slots, not 3/)
    assert.equal(cache.length, 3)
  })

  /**
   * The search of pipeline/beam.ts on the decoder as it was before the slot cache: every
   * hypothesis carries its own copy of its keys and values, laid out afresh in row order before
   * each step (so each step sees the same rows in the same order, and int8 quantizes them alike).
   */
  async function copyingBeam (image: Encoded, width: number, prune: number): Promise<Array<[string, number, number]>> {
    const { bos, eos, pad, unk } = model.manifest.specialTokens
    const d = model.emptyCache(1, 1).k[0]!.length
    interface Own { k: Float32Array[], v: Float32Array[] }
    let owns: Own[][] = [[]]
    let mine: Own[] = []
    const step: BeamStep = async (tokens, parents) => {
      // Each row: its parent's copies, and what the step before wrote for the parent.
      const rows = parents.map(p => p < 0 ? [] : [...owns[p]!, mine[p]!])
      const t = rows[0]!.length
      const cache = model.emptyCache(width, t + 1)
      rows.forEach((own, r) => own.forEach((o, p) => o.k.forEach((_, b) => {
        cache.k[b]!.set(o.k[b]!, (p * width + r) * d)
        cache.v[b]!.set(o.v[b]!, (p * width + r) * d)
      })))
      cache.length = t
      const out = await model.step(image, tokens, cache)
      const slice = (a: Float32Array, r: number): Float32Array => a.slice((t * width + r) * d, (t * width + r + 1) * d)
      owns = rows
      mine = tokens.map((_, r) => ({ k: cache.k.map(a => slice(a, r)), v: cache.v.map(a => slice(a, r)) }))
      return out
    }
    const found = await beamSearch(step, { width, maxLength: model.manifest.maxLength - 1, alpha: LENGTH_ALPHA, prune, bos, eos, never: [pad, bos, unk] })
    return found.map(h => [h.ids.map(v => model.vocab[v]).join(' '), h.logprob, h.score])
  }

  const readings = (hyps: readonly Hypothesis[]) => hyps.map((h): [string, number, number] => [h.tokens.join(' '), h.logprob, h.score])

  it('beam search gives what a search with a copy of the cache per hypothesis gives, pruned or not', async () => {
    const encoded = await model.encode(canvases)
    for (const image of encoded) {
      for (const [width, prune] of [[5, BEAM_PRUNE], [3, Infinity], [7, BEAM_PRUNE]] as const) {
        const got = readings(await model.beamSearch(image, { beam: width, prune }))
        assert.ok(got.length > 0)
        assert.deepEqual(got, await copyingBeam(image, width, prune), `beam ${width}, prune ${prune}`)
      }
    }
  })

  it('searches running at once on one recogniser each give what they give alone', async () => {
    const encoded = await model.encode([...canvases, ...canvases])
    const alone = []
    for (const image of encoded) alone.push(readings(await model.beamSearch(image, { beam: 5 })))
    const together = await Promise.all(encoded.map(async (image) => readings(await model.beamSearch(image, { beam: 5 }))))
    assert.deepEqual(together, alone)
  })

  it('grows a wide cache, keeping what it holds, and refuses a pruning margin that is not one', async () => {
    const [image] = await model.encode([canvases[0]!])
    const run = async (capacity: number): Promise<Float32Array[][]> => {
      const cache = model.emptyCache(5, capacity)
      const out = []
      for (let t = 0; t < 8; t++) out.push(await model.step(image!, [1, 5, 6, 7, 8].map((x) => (t === 0 ? 1 : x + t)), cache))
      assert.equal(cache.length, 8)
      assert.ok(cache.capacity >= 8)
      return out
    }
    assert.deepEqual(await run(2), await run(64))
    for (const prune of [-1, Number.NaN]) await assert.rejects(model.beamSearch(image!, { prune }), RangeError)
    // Unpruned, the beam holds `width` readings to the end.
    assert.equal((await model.beamSearch(image!, { beam: 4, prune: Infinity })).length, 4)
  })

  it('beam search returns distinct hypotheses, best first, with finite scores', async () => {
    const [hyps] = await model.recognize([canvases[0]!], { beam: 5 })
    assert.ok(hyps && hyps.length >= 2)
    for (let i = 1; i < hyps.length; i++) assert.ok(hyps[i - 1]!.score >= hyps[i]!.score)
    assert.equal(new Set(hyps.map((h) => h.latex)).size, hyps.length)
    for (const h of hyps) assert.ok(h.logprob < 0 && Number.isFinite(h.score))
  })

  it('refuses a model folder whose decoder has another interface, naming what it has and what it needs', async () => {
    const dir = await tempDir()
    try {
      await cp(DEFAULT_MODEL_DIR, dir, { recursive: true })
      // A decoder.onnx that is some other graph (here the encoder), listed with its true SHA-256.
      const other = await readFile(join(dir, 'encoder.onnx'))
      await writeFile(join(dir, 'decoder.onnx'), other)
      const manifest = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { files: Record<string, string> }
      manifest.files['decoder.onnx'] = createHash('sha256').update(other).digest('hex')
      await writeFile(join(dir, 'model.json'), JSON.stringify(manifest))
      await assert.rejects(
        Recognizer.load(dir),
        (err: Error) => err instanceof ModelFileError && /decoder\.onnx has inputs image; this version of texmesh needs token, position, history, cross_k0/.test(err.message)
      )
    } finally {
      await removeDir(dir)
    }
  })

  it('refuses a model folder whose file does not match its SHA-256', async () => {
    const dir = await tempDir()
    try {
      await cp(DEFAULT_MODEL_DIR, dir, { recursive: true })
      const vocab = await readFile(join(dir, 'vocab.json'), 'utf8')
      await writeFile(join(dir, 'vocab.json'), vocab.replace('\\\\alpha', '\\\\beta'))
      await assert.rejects(Recognizer.load(dir), (err: Error) => err instanceof ModelFileError && /vocab\.json has SHA-256/.test(err.message))
    } finally {
      await removeDir(dir)
    }
  })
})

describe('npm run eval', () => {
  it('reports exact match, edit distance, BLEU and every failure for a truth file', async () => {
    const dir = await tempDir()
    try {
      // Ten held-out images and their truth, one of them deliberately wrong.
      const truth = (await readFile(join(ROOT, 'datasets', 'heldout-a', 'truth.jsonl'), 'utf8')).trim().split('\n').slice(0, 10)
      const rows = truth.map((l) => JSON.parse(l) as { file: string; latex: string })
      for (const r of rows) await cp(join(ROOT, 'datasets', 'heldout-a', r.file), join(dir, r.file))
      rows[0]!.latex = 'q^{q^{q}}\\neq\\nabla\\nabla\\nabla'
      await writeFile(join(dir, 'truth.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n')
      const report = join(dir, 'report.json')
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'scripts', 'eval.js'), dir, '--beam', '2', '--report', report, '--json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const { code, stdout, stderr } = await collect(child)
      assert.equal(code, 0, stderr)
      const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, number>
      const written = JSON.parse(await readFile(report, 'utf8')) as {
        summary: Record<string, number>;
        failures: { file: string; truth: string; output: string; exact: boolean; ned: number }[];
      }
      assert.equal(summary.images, 10)
      assert.equal(written.failures.length, summary.failures)
      assert.ok(written.failures.some((f) => f.file === rows[0]!.file && f.truth === 'q^{q^{q}}\\neq\\nabla\\nabla\\nabla'))
      assert.ok(Math.abs(summary.exactMatch! - (10 - written.failures.length) / 10) < 1e-9)
      for (const f of written.failures) assert.ok(f.ned > 0 && f.ned <= 1 && f.truth !== f.output)
      // confidence: each answer's raw probability through the shipped curve, and how well that holds
      const curve = await loadShippedCurve(DEFAULT_MODEL_DIR, (JSON.parse(await readFile(join(DEFAULT_MODEL_DIR, 'model.json'), 'utf8')) as { version: string }).version)
      for (const f of written.failures as unknown as { raw: number; confidence: number }[]) {
        assert.ok(f.raw >= 0 && f.raw <= 1)
        assert.ok(Math.abs(f.confidence - calibrate(f.raw, curve)) < 1e-12)
      }
      const cal = (summary as unknown as { calibration: { meanConfidence: number; ece: number; eceRaw: number } }).calibration
      assert.ok(cal.meanConfidence > 0 && cal.meanConfidence <= 1 && cal.ece >= 0 && cal.ece <= 1 && cal.eceRaw >= 0 && cal.eceRaw <= 1)
      assert.ok(summary.bleu! >= 0 && summary.bleu! <= 1)
      // by length: the bands add up to the whole, and their exact matches to the total
      const bands = (summary as unknown as { byLength: { tokens: string; images: number; exactMatch: number }[] }).byLength
      const lengths = rows.map((r) => canonicalTokens(r.latex).length)
      assert.equal(bands.reduce((n, b) => n + b.images, 0), 10)
      assert.ok(Math.abs(bands.reduce((n, b) => n + b.exactMatch * b.images, 0) - summary.exactMatch! * 10) < 1e-9)
      for (const b of bands) {
        const [lo, hi] = b.tokens.endsWith('+') ? [Number(b.tokens.slice(0, -1)), Infinity] : b.tokens.split('-').map(Number)
        assert.equal(b.images, lengths.filter((n) => n >= lo! && n <= hi!).length, `band ${b.tokens}`)
      }
    } finally {
      await removeDir(dir)
    }
  })

  it('says what is wrong with a folder without a truth file', async () => {
    const dir = await tempDir()
    try {
      const child = spawn(process.execPath, [join(ROOT, 'dist', 'scripts', 'eval.js'), dir], { stdio: ['ignore', 'pipe', 'pipe'] })
      const { code, stderr } = await collect(child)
      assert.equal(code, 1)
      assert.match(stderr, /no truth file/)
    } finally {
      await removeDir(dir)
    }
  })
})

describe('npm run calibrate', () => {
  it('fits the confidence curve for the model in a folder, which its pipeline then uses', async () => {
    const dir = await tempDir()
    try {
      const model = join(dir, 'model')
      await cp(DEFAULT_MODEL_DIR, model, { recursive: true })
      const set = join(dir, 'set')
      const rows = (await readFile(join(ROOT, 'datasets', 'calibration', 'truth.jsonl'), 'utf8')).trim().split('\n').slice(0, 60)
      for (const l of rows) await cp(join(ROOT, 'datasets', 'calibration', (JSON.parse(l) as { file: string }).file), join(set, (JSON.parse(l) as { file: string }).file))
      await writeFile(join(set, 'truth.jsonl'), rows.join('\n') + '\n')
      const { code, stdout, stderr } = await collect(spawn(process.execPath, [join(ROOT, 'dist', 'scripts', 'calibrate.js'), set, '--model', model, '--beam', '2'], { stdio: ['ignore', 'pipe', 'pipe'] }))
      assert.equal(code, 0, stderr)
      assert.match(stdout, /^60 images in .*, \d+ read right/m)
      const version = (JSON.parse(await readFile(join(model, 'model.json'), 'utf8')) as { version: string }).version
      const written = JSON.parse(await readFile(join(model, 'calibration.json'), 'utf8')) as { model: string; curve: [number, number][]; fittedOn: [number, number][]; beam: number }
      assert.equal(written.model, version)
      assert.equal(written.beam, 2)
      assert.equal(written.fittedOn.length, 60)
      for (let i = 1; i < written.curve.length; i++) assert.ok(written.curve[i]![0] > written.curve[i - 1]![0] && written.curve[i]![1] >= written.curve[i - 1]![1])
      // The curve agrees with what it was fitted on: as many right answers expected as there were.
      const right = written.fittedOn.filter(([, r]) => r === 1).length
      const expected = written.fittedOn.reduce((s, [raw]) => s + calibrate(raw, { points: written.curve }), 0)
      assert.ok(Math.abs(expected - right) < 0.1 * 60, `${expected} expected right, ${right} were`)
      const pipeline = await OcrPipeline.load({ modelDir: model, threads: 1 })
      try {
        const r = await pipeline.recognize(await readFile(join(ROOT, 'test', 'fixtures', 'ocr', 'fraction.png')), 'fraction.png')
        assert.ok(Math.abs(r.confidence - calibrate(Math.exp(r.regions[0]!.score), { points: written.curve })) < 1e-12)
      } finally {
        await pipeline.release()
      }
      // Too few images for a curve: refused, and the curve stays.
      await writeFile(join(set, 'truth.jsonl'), rows.slice(0, 10).join('\n') + '\n')
      const few = await collect(spawn(process.execPath, [join(ROOT, 'dist', 'scripts', 'calibrate.js'), set, '--model', model], { stdio: ['ignore', 'pipe', 'pipe'] }))
      assert.equal(few.code, 1)
      assert.match(few.stderr, /10 readable images; a curve needs at least 50/)
      assert.deepEqual(JSON.parse(await readFile(join(model, 'calibration.json'), 'utf8')), written)
    } finally {
      await removeDir(dir)
    }
  })
})

void CLI
