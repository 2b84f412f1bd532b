import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, cp, readFile, writeFile, mkdir, symlink } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { OcrPipeline } from '../pipeline/ocr.js'
import { DEFAULT_MODEL_DIR, glyphGeometry } from '../pipeline/recognizer.js'
import { expandInputs } from '../node/cli/ocr.js'
import { ImageError } from '../pipeline/preprocess.js'
import { calibrate, rawProbability } from '../pipeline/confidence.js'
import { canonicalize, canonicalTokens, detokenize } from '../pipeline/latex/canonical.js'
import { canvasFromInk } from '../pipeline/model-input.js'
import { ModelFileError } from '../pipeline/model-error.js'
import { preprocess } from '../pipeline/preprocess.js'
import { readingPieces, segment } from '../pipeline/segment.js'
import { shippedModelVersion } from '../node/daemon/compute.js'
import { answerTokens, readTruth } from '../scripts/eval.js'
import { normalizedEditDistance } from '../pipeline/latex/metrics.js'
import { DataDir } from '../node/datadir/datadir.js'
import type { RunningNode } from '../node/daemon/start.js'
import { CLI, collect, removeDir, runCli, spawnCli, startTestNode, tempDir } from './helpers.js'
import { unsureReadAgain, widerThanTheCanvas } from './ocr-helpers.js'
import { existsSync, statSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/ocr/', import.meta.url))
const MODEL_JSON = join(DEFAULT_MODEL_DIR, 'model.json')

/** Known images (rendered by TeX) and what the shipped model reads in them, in canonical form. */
const KNOWN: Record<string, string[]> = {
  'one-formula.png': ['x^{2}+y^{2}=1'],
  'fraction.png': ['f(x)=\\frac{a}{b}'],
  'sum.png': ['\\sum_{i=1}^{n}i'],
  'three-lines.png': ['a+b=c', 'x^{2}-1=0', '\\frac{1}{2}\\leq y']
}

describe('OCR pipeline with the shipped model', { timeout: 120_000 }, () => {
  let pipeline: OcrPipeline
  before(async () => { pipeline = await OcrPipeline.load({ threads: 2 }) })
  after(async () => { await pipeline?.release() })

  // The accuracy check proper: images rendered by TeX, unlike the training data's renders in
  // size and margins, read to their canonical LaTeX, and a derivation's lines in order.
  it('reads known images to their canonical LaTeX, regions in order', async () => {
    for (const [name, want] of Object.entries(KNOWN)) {
      const r = await pipeline.recognize(await readFile(FIXTURES + name), name)
      assert.deepEqual(r.regions.map(g => g.latex), want, name)
      assert.equal(r.latex, want.join(' \\\\ '))
      for (let i = 1; i < r.regions.length; i++) assert.ok(r.regions[i]!.bbox.y > r.regions[i - 1]!.bbox.y, 'top to bottom')
      assert.ok(r.confidence > 0 && r.confidence <= 1)
      for (const g of r.regions) assert.ok(g.confidence > 0 && g.confidence <= 1)
    }
  })

  it('gives alternatives with their log-probabilities, and the model version', async () => {
    const r = await pipeline.recognize(await readFile(FIXTURES + 'fraction.png'), 'fraction.png', { beam: 4 })
    const manifest = JSON.parse(await readFile(MODEL_JSON, 'utf8'))
    assert.equal(r.model, manifest.version)
    assert.ok(r.alternatives.length >= 1 && r.alternatives.length <= 3, `${r.alternatives.length} alternatives`)
    const best = r.regions[0]!.score
    for (const a of r.alternatives) {
      assert.ok(a.score <= 0 && a.score <= best + 1e-6, 'a log-probability no likelier than the answer')
      assert.notEqual(a.latex, r.latex)
    }
    const greedy = await pipeline.recognize(await readFile(FIXTURES + 'fraction.png'), 'fraction.png', { beam: 1 })
    assert.deepEqual(greedy.alternatives, [])
  })

  it('states its confidence through the calibration curve the model ships, fitted for this version', async () => {
    const manifest = JSON.parse(await readFile(MODEL_JSON, 'utf8'))
    const shipped = JSON.parse(await readFile(MODEL_JSON.replace(/model\.json$/, 'calibration.json'), 'utf8'))
    assert.equal(shipped.model, manifest.version, 'calibration.json is fitted for the shipped model (npm run calibrate after an export)')
    const r = await pipeline.recognize(await readFile(FIXTURES + 'fraction.png'), 'fraction.png')
    const g = r.regions[0]!
    assert.ok(Math.abs(g.confidence - calibrate(rawProbability(g.score), { points: shipped.curve })) < 1e-12)
    // Trained with label smoothing, the model's raw probability of even a right answer is low; the curve lifts it.
    assert.ok(g.confidence > rawProbability(g.score), `${g.confidence} for a raw ${rawProbability(g.score)}`)
  })

  it('reads a formula too wide for the canvas in pieces, joined into one region, closer to the truth', async () => {
    const geometry = glyphGeometry(pipeline.recognizer.manifest)
    if (geometry != null) {
      await widerThanTheCanvas(pipeline, geometry)
      return
    }
    // v1: the five longest formulas of held-out A: scaled whole into 512 pixels their glyphs would be a few pixels high.
    const dir = fileURLToPath(new URL('../../datasets/heldout-a/', import.meta.url))
    const longest = (await readTruth(dir)).sort((a, b) => canonicalTokens(b.latex).length - canonicalTokens(a.latex).length).slice(0, 5)
    let whole = 0
    let pieced = 0
    for (const t of longest) {
      const bytes = await readFile(dir + t.file)
      const img = await preprocess(bytes, t.file)
      const [region, ...others] = segment(img.ink, img.width, img.height)
      assert.equal(others.length, 0)
      const pieces = readingPieces(img.ink, img.width, region!)
      assert.ok(pieces.length > 1, `${t.file}: ${pieces.length} piece`)
      const canvases = await Promise.all([region!.box, ...pieces].map(async b => await canvasFromInk(img.ink, img.width, img.height, b)))
      const [alone, ...each] = await pipeline.recognizer.recognize(canvases, { beam: 5 })
      const r = await pipeline.recognize(bytes, t.file)
      assert.equal(r.regions.length, 1)
      const g = r.regions[0]!
      if (g.parse === 'best') {
        // the pieces' best readings, in order, joined; their log-probabilities added
        assert.equal(g.latex, canonicalize(detokenize(each.flatMap(h => h[0]!.tokens))))
        assert.ok(Math.abs(g.score - each.reduce((s, h) => s + h[0]!.logprob, 0)) < 1e-6)
      }
      const truth = canonicalTokens(t.latex)
      whole += normalizedEditDistance(truth, alone![0]!.tokens)
      // (an answer none of whose readings parse is scored as it is, as npm run eval scores it)
      pieced += normalizedEditDistance(truth, answerTokens(g.latex))
    }
    assert.ok(pieced < whole, `edit distance to the truth: ${(pieced / 5).toFixed(3)} in pieces, ${(whole / 5).toFixed(3)} whole`)
  })

  it('reads an unsure image again at the other glyph scales, and keeps the likeliest reading', async () => {
    await unsureReadAgain(pipeline)
  })

  it('reads a formula turned on its side, and says it did', async () => {
    const upright = await readFile(FIXTURES + 'one-formula.png')
    const turned = await sharp(upright).rotate(90).png().toBuffer()
    const r = await pipeline.recognize(turned, 'turned.png')
    assert.equal(canonicalize(r.latex), canonicalize((await pipeline.recognize(upright, 'upright.png')).latex))
    assert.ok(r.rotated === 90 || r.rotated === 270, `rotated: ${String(r.rotated)}`)
    assert.equal((await pipeline.recognize(upright, 'upright.png')).rotated, undefined)
    // Formulas taller than wide that stand upright (rendered by TeX) are read as they stand,
    for (const [name, latex] of [['tall-sum.png', '\\sum_{k=0}^{\\infty}'], ['tall-fraction.png', '\\frac{2}{3}']] as const) {
      const tall = await pipeline.recognize(await readFile(FIXTURES + name), name)
      assert.equal(tall.rotated, undefined, name)
      assert.equal(canonicalize(tall.latex), canonicalize(latex), name)
    }
    // and so is a column of formulas (sum.png twice, one above the other).
    const sum = await readFile(FIXTURES + 'sum.png')
    const column = await sharp({ create: { width: 82, height: 204, channels: 3, background: '#ffffff' } })
      .composite([{ input: sum, top: 0, left: 0 }, { input: sum, top: 108, left: 0 }]).png().toBuffer()
    const col = await pipeline.recognize(column, 'column.png')
    assert.deepEqual([col.rotated, col.regions.map(g => g.latex)], [undefined, [...KNOWN['sum.png']!, ...KNOWN['sum.png']!]])
  })

  it('says what it cannot read (an array, prose), with no confidence, and still reads binomials and fractions in parentheses', async () => {
    const dir = FIXTURES.replace(/ocr\/$/, 'unreadable/')
    for (const [name, reason] of [['matrix.png', 'array'], ['determinant.png', 'array'], ['prose.png', 'text'], ['prose-sans.png', 'text']] as const) {
      const r = await pipeline.recognize(await readFile(dir + name), name)
      assert.equal(r.unreadable?.reason, reason, `${name}: ${r.latex}`)
      assert.equal(r.confidence, 0, name)
      assert.ok(r.regions.some(g => g.unreadable?.reason === reason && g.confidence === 0), name)
    }
    const matrix = await pipeline.recognize(await readFile(dir + 'matrix.png'), 'matrix.png')
    assert.match(matrix.unreadable!.detail, /2 rows and 2 columns/)
    for (const name of ['binomials.png', 'fractions-in-parentheses.png']) {
      const r = await pipeline.recognize(await readFile(dir + name), name)
      assert.equal(r.unreadable, undefined, `${name} is a formula the model reads: ${r.latex}`)
      assert.ok(r.confidence > 0, name)
    }
    // The known formulas are not refused either (held-out A, B and C are checked the same way: see the README).
    for (const name of Object.keys(KNOWN)) assert.equal((await pipeline.recognize(await readFile(FIXTURES + name), name)).unreadable, undefined, name)
  })

  it('refuses an image with no ink', async () => {
    const white = await sharp({ create: { width: 200, height: 60, channels: 3, background: '#f4f4f4' } }).png().toBuffer()
    await assert.rejects(pipeline.recognize(white, 'white.png'), (err: unknown) => err instanceof ImageError && err.reason === 'no-ink' && err.message.startsWith('white.png: '))
  })
})

/** What the shipped model reads in a fixture, through the pipeline in this process: the CLI and the API must say the same. */
async function pipelineReads (name: string, beam?: number): Promise<{ latex: string, regions: string[] }> {
  const p = await OcrPipeline.load({ threads: 2 })
  try {
    const r = await p.recognize(await readFile(FIXTURES + name), name, beam != null ? { beam } : {})
    return { latex: r.latex, regions: r.regions.map(g => g.latex) }
  } finally {
    await p.release()
  }
}

describe('texmesh ocr', { timeout: 120_000 }, () => {
  let dir: string
  before(async () => {
    dir = await tempDir()
    await mkdir(join(dir, 'batch'))
    await copyFile(FIXTURES + 'one-formula.png', join(dir, 'batch', '1-good.png'))
    await writeFile(join(dir, 'batch', '2-empty.png'), Buffer.alloc(0))
    await writeFile(join(dir, 'batch', '3-notes.jpg'), 'not an image\n')
    const png = await readFile(FIXTURES + 'fraction.png')
    await writeFile(join(dir, 'batch', '4-cut.png'), png.subarray(0, png.length >> 1))
    await writeFile(join(dir, 'batch', '5-blank.png'), await sharp({ create: { width: 120, height: 40, channels: 3, background: '#ffffff' } }).png().toBuffer())
    await copyFile(FIXTURES + 'three-lines.png', join(dir, 'batch', '6-lines.png'))
    await writeFile(join(dir, 'batch', 'README.txt'), 'not taken from a directory\n')
  })
  after(async () => { await removeDir(dir) })

  it('processes every file, several at once, reports each failure in input order, and exits non-zero', async () => {
    const r = await runCli(['ocr', join(dir, 'batch'), join(dir, 'missing.png'), '--json', '--jobs', '3'], { timeoutMs: 90_000 })
    assert.equal(r.code, 1, r.stderr)
    const lines = r.stdout.trim().split('\n').map(l => JSON.parse(l))
    assert.deepEqual(lines.map(l => l.file.replace(dir + '/', '')), ['batch/1-good.png', 'batch/2-empty.png', 'batch/3-notes.jpg', 'batch/4-cut.png', 'batch/5-blank.png', 'batch/6-lines.png', 'missing.png'])
    assert.deepEqual(lines.map(l => l.reason ?? 'ok'), ['ok', 'empty', 'not-an-image', 'truncated', 'no-ink', 'ok', 'unreadable'])
    const good = lines[0]
    assert.deepEqual(Object.keys(good).sort(), ['alternatives', 'confidence', 'file', 'latex', 'model', 'ms', 'regions'])
    assert.equal(good.latex, (await pipelineReads('one-formula.png')).latex)
    assert.deepEqual(Object.keys(good.regions[0].bbox).sort(), ['height', 'width', 'x', 'y'])
    assert.equal(lines[5].regions.length, 3)
    for (const bad of lines.filter(l => l.error != null)) assert.equal(typeof bad.error, 'string')
  })

  it('--min-confidence: an answer below it is a miss, marked, and the exit code says so', async () => {
    const strict = await runCli(['ocr', FIXTURES + 'sum.png', '--json', '--min-confidence', '0.9999'], { timeoutMs: 60_000 })
    assert.equal(strict.code, 1)
    assert.equal(JSON.parse(strict.stdout).belowMinConfidence, true)
    const lax = await runCli(['ocr', FIXTURES + 'sum.png', '--json', '--min-confidence', '0'], { timeoutMs: 60_000 })
    assert.equal(lax.code, 0, lax.stderr)
    assert.equal(JSON.parse(lax.stdout).belowMinConfidence, undefined)
    const human = await runCli(['ocr', FIXTURES + 'sum.png', '--min-confidence', '0.9999'], { timeoutMs: 60_000 })
    assert.match(human.stdout, /below --min-confidence: not trusted/)
    assert.match(human.stderr, /1 of 1 answers below --min-confidence 0\.9999/)
    // What the model cannot read is a miss at any --min-confidence, and says why.
    const matrix = await runCli(['ocr', FIXTURES.replace(/ocr\/$/, 'unreadable/matrix.png'), '--min-confidence', '0.01'], { timeoutMs: 60_000 })
    assert.equal(matrix.code, 1)
    assert.match(matrix.stdout, /confidence 0\.00, .*not read: an array of 2 rows and 2 columns .*below --min-confidence: not trusted/)
    const matrixJson = await runCli(['ocr', FIXTURES.replace(/ocr\/$/, 'unreadable/matrix.png'), '--json'], { timeoutMs: 60_000 })
    assert.equal(matrixJson.code, 1, 'not an answer, even without --min-confidence')
    assert.equal(JSON.parse(matrixJson.stdout).unreadable.reason, 'array')
    const prose = await runCli(['ocr', FIXTURES.replace(/ocr\/$/, 'unreadable/prose.png'), FIXTURES + 'sum.png'], { timeoutMs: 60_000 })
    assert.equal(prose.code, 1)
    assert.match(prose.stdout, /not read: lines of prose, not a formula/)
    assert.match(prose.stderr, /1 of 2 images are not formulas this model can read/)
    const bad = await runCli(['ocr', FIXTURES + 'sum.png', '--min-confidence', '2'])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /--min-confidence must be a number from 0 to 1/)
  })

  it('leaves no onnxruntime telemetry file behind (/tmp/mat-debug-PID.log)', async () => {
    const started = Date.now()
    const child = spawnCli(['ocr', FIXTURES + 'sum.png'], { ORT_DISABLE_TELEMETRY: '' })
    const r = await collect(child)
    assert.equal(r.code, 0, r.stderr)
    // A file of that name from before the child started is another process's that had the same pid.
    const file = `/tmp/mat-debug-${child.pid}.log`
    assert.equal(existsSync(file) && statSync(file).mtimeMs >= started - 1000, false)
  })

  it('prints one line per image without --json, and refuses a bad --beam', async () => {
    const r = await runCli(['ocr', FIXTURES + 'sum.png', '--beam', '3'], { timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr)
    const expected = (await pipelineReads('sum.png', 3)).latex
    assert.ok(r.stdout.startsWith(`${FIXTURES}sum.png\t${expected}\t(confidence `), r.stdout)
    // several regions: a line for the image, then one per region with its own confidence
    const lines = await runCli(['ocr', FIXTURES + 'three-lines.png', '--jobs', '1'], { timeoutMs: 60_000 })
    assert.equal(lines.code, 0, lines.stderr)
    const read = await pipelineReads('three-lines.png')
    const out = lines.stdout.trimEnd().split('\n')
    assert.match(out[0]!, /three-lines\.png\t3 regions\t\(confidence 0\.\d\d, \d+ ms\)$/)
    assert.deepEqual(out.slice(1).map(l => l.replace(/\t\(confidence [01]\.\d\d\)$/, '')), read.regions.map((latex, i) => `  ${i + 1}. ${latex}`))
    const bad = await runCli(['ocr', FIXTURES + 'sum.png', '--beam', '0'])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /--beam must be a whole number/)
  })
})

describe('texmesh ocr in a terminal', { timeout: 120_000 }, () => {
  it('prints every result above the progress bar, the last ones too', async (t) => {
    if (spawnSync('script', ['--version']).status !== 0) return t.skip('needs script (util-linux) for a pseudo-terminal')
    const dir = await tempDir()
    try {
      for (let i = 0; i < 30; i++) await copyFile(FIXTURES + (i % 2 === 0 ? 'sum.png' : 'fraction.png'), join(dir, `${String(i).padStart(2, '0')}.png`))
      // stdout and stderr both a terminal: the results share it with the bar.
      const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} ocr ${JSON.stringify(dir)} --jobs 2`
      const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 90_000 })
      assert.equal(r.status, 0, r.stderr)
      const printed = r.stdout.split(/\r|\n/).filter(l => /\.png\t.*\(confidence/.test(l)).map(l => l.replace(/^.*?(\/[^\t]*\.png)\t.*$/, '$1'))
      assert.equal(new Set(printed).size, 30, `${new Set(printed).size} of 30 results printed`)
    } finally {
      await removeDir(dir)
    }
  })
})

describe('a model folder with a stale calibration curve', { timeout: 120_000 }, () => {
  let dir: string
  before(async () => {
    dir = await tempDir()
    await cp(DEFAULT_MODEL_DIR, join(dir, 'model'), { recursive: true })
    const cal = JSON.parse(await readFile(join(dir, 'model', 'calibration.json'), 'utf8'))
    await writeFile(join(dir, 'model', 'calibration.json'), JSON.stringify({ ...cal, model: 'texmesh-v1+0000000000000000' }))
  })
  after(async () => { await removeDir(dir) })

  it('stops texmesh ocr with a message that says what is wrong, one image at a time or several', async () => {
    for (const jobs of ['1', '2']) {
      const r = await runCli(['ocr', FIXTURES + 'sum.png', FIXTURES + 'fraction.png', '--model', join(dir, 'model'), '--jobs', jobs], { timeoutMs: 60_000 })
      assert.equal(r.code, 1)
      assert.match(r.stderr, /^texmesh: model folder .*: calibration\.json was fitted for model texmesh-v1\+0000000000000000, not texmesh-v\d+\+[0-9a-f]{16}/m, `--jobs ${jobs}: ${r.stderr}`)
      assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /, 'no stack trace')
    }
  })

  it('keeps a node from starting (rather than failing every task it takes)', async () => {
    await assert.rejects(shippedModelVersion(join(dir, 'model')), (err: unknown) => err instanceof ModelFileError && /was fitted for model texmesh-v1\+0000000000000000/.test(err.message))
  })
})

async function post (port: number, path: string, headers: Record<string, string>, body: Buffer | string): Promise<{ status: number, json: any }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers }, (res) => {
      let data = ''
      res.on('data', (d: Buffer) => { data += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, json: data === '' ? null : JSON.parse(data) }) })
    })
    req.on('error', reject)
    req.setTimeout(60_000, () => req.destroy(new Error('request timed out')))
    req.end(body)
  })
}

describe('input files', () => {
  it('follows symbolic links in a directory (once, even in a loop) and reports broken ones and unreadable directories', async () => {
    const dir = await tempDir()
    try {
      await mkdir(join(dir, 'd'))
      await mkdir(join(dir, 'elsewhere'))
      await writeFile(join(dir, 'd', '1.png'), 'x')
      await writeFile(join(dir, 'elsewhere', 'a.png'), 'x')
      await writeFile(join(dir, 'target.png'), 'x')
      await symlink(join(dir, 'elsewhere'), join(dir, 'd', '2-dirlink'))
      await symlink(join(dir, 'target.png'), join(dir, 'd', '3-link.png'))
      await symlink(join(dir, 'nothing.png'), join(dir, 'd', '4-broken.png'))
      await symlink(join(dir, 'd'), join(dir, 'd', '5-loop'))
      await writeFile(join(dir, 'd', '6-notes.txt'), 'x')
      const found = await expandInputs([join(dir, 'd'), join(dir, 'no-such-dir')])
      assert.deepEqual(found.map(f => ({ ...f, file: f.file.slice(dir.length + 1) })), [
        { file: 'd/1.png' },
        { file: 'd/2-dirlink/a.png' },
        { file: 'd/3-link.png' },
        { file: 'd/4-broken.png', error: 'a broken symbolic link' },
        { file: 'no-such-dir', error: 'no such file or directory' }
      ])
    } finally {
      await removeDir(dir)
    }
  })
})

describe('POST /v1/ocr', { timeout: 120_000 }, () => {
  let dataDir: string
  let node: RunningNode
  let token: string
  before(async () => {
    dataDir = await tempDir()
    node = await startTestNode(dataDir)
    token = (await readFile(new DataDir(dataDir).paths.apiToken, 'utf8')).trim()
  })
  after(async () => {
    await node?.stop()
    await removeDir(dataDir)
  })

  it('recognises a posted image and answers in the shape texmesh ocr --json uses', async () => {
    const png = await readFile(FIXTURES + 'three-lines.png')
    const r = await post(node.apiPort, '/v1/ocr?beam=3&name=lines.png', { 'content-type': 'image/png', authorization: `Bearer ${token}` }, png)
    assert.equal(r.status, 200, JSON.stringify(r.json))
    assert.deepEqual(r.json.regions.map((g: any) => g.latex), (await pipelineReads('three-lines.png', 3)).regions)
    assert.equal(r.json.regions.length, 3)
    for (const k of ['latex', 'confidence', 'alternatives', 'regions', 'model', 'ms']) assert.ok(k in r.json, k)
  })

  it('refuses bad images, bad queries, other bodies and missing tokens', async () => {
    const auth = { authorization: `Bearer ${token}` }
    const garbage = await post(node.apiPort, '/v1/ocr?name=x.png', { ...auth, 'content-type': 'application/octet-stream' }, 'garbage bytes')
    assert.equal(garbage.status, 422)
    assert.equal(garbage.json.reason, 'not-an-image')
    assert.match(garbage.json.error, /^x\.png: /)
    const png = await readFile(FIXTURES + 'sum.png')
    assert.equal((await post(node.apiPort, '/v1/ocr?beam=0', { ...auth, 'content-type': 'image/png' }, png)).status, 400)
    assert.equal((await post(node.apiPort, '/v1/ocr', { ...auth, 'content-type': 'application/json' }, '{"image": 1}')).status, 415)
    assert.equal((await post(node.apiPort, '/v1/ocr', { 'content-type': 'image/png' }, png)).status, 401)
  })
})
