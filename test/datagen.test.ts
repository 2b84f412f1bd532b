import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, it } from 'node:test'
import sharp from 'sharp'
import { canonicalTokens } from '../pipeline/latex/canonical.js'
import { INPUT_HEIGHT, INPUT_WIDTH, modelCanvas, NoInkError } from '../pipeline/model-input.js'
import { DEFAULT_MODEL_DIR } from '../pipeline/recognizer.js'
import { augment, HELDOUT_B_AUGMENT, TRAIN_AUGMENT } from '../scripts/datagen/augment.js'
import { makeSamples, MAX_TOKENS, PROFILES } from '../scripts/datagen/build.js'
import { FormulaGenerator } from '../formulas/grammar.js'
import { renderMathjax } from '../formulas/render-mathjax.js'
import { renderTex, TEX_FONTS, type TexFont } from '../scripts/datagen/render-tex.js'
import { Rng } from '../formulas/rng.js'

const run = promisify(execFile)

function inkPixels (canvas: Uint8Array): number {
  return canvas.reduce((n, v) => n + (v > 128 ? 1 : 0), 0)
}

describe('formula generator', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = new FormulaGenerator(new Rng(7))
    const b = new FormulaGenerator(new Rng(7))
    const c = new FormulaGenerator(new Rng(8))
    const xs = Array.from({ length: 50 }, () => a.formula())
    assert.deepEqual(xs, Array.from({ length: 50 }, () => b.formula()))
    assert.notDeepEqual(xs, Array.from({ length: 50 }, () => c.formula()))
  })

  it('covers the v1 notation, and every token it writes is in the shipped vocabulary', async () => {
    const vocab = new Set(JSON.parse(await readFile(join(DEFAULT_MODEL_DIR, 'vocab.json'), 'utf8')) as string[])
    const gen = new FormulaGenerator(new Rng(99))
    const seen = new Set<string>()
    for (let i = 0; i < 5000; i++) {
      for (const t of canonicalTokens(gen.formula())) {
        assert.ok(vocab.has(t), `token ${t} is not in the vocabulary`)
        seen.add(t)
      }
    }
    const v1 = [
      '\\alpha', '\\Gamma', "'", '\\leq', '\\geq', '\\neq', '\\approx', '\\equiv', '\\sim', '\\propto', '\\pm', '\\mp',
      '\\times', '\\cdot', '\\in', '\\notin', '\\subset', '\\subseteq', '\\cup', '\\cap', '\\forall', '\\exists', '\\to',
      '\\Rightarrow', '\\Leftrightarrow', '\\mid', '!', '|', ',', ';', ':', '.', '\\infty', '\\partial', '\\nabla',
      '\\hbar', '\\ell', '\\ldots', '\\cdots', '\\mathbb', '\\mathbf', '^', '_', '\\frac', '\\sqrt', '[', '\\binom',
      '\\sum', '\\prod', '\\int', '\\oint', '\\lim', '(', '\\{', '\\hat', '\\bar', '\\vec', '\\dot', '\\tilde', '\\sin',
      '\\cos', '\\tan', '\\arctan', '\\log', '\\ln', '\\exp', '\\min', '\\max', '\\det', '\\gcd', '\\bmod', '\\pmod',
    ]
    for (const t of v1) assert.ok(seen.has(t), `the generator never writes ${t}`)
  })
})

describe('renderers and augmentation', () => {
  it('MathJax renders a formula that the model input finds ink in', async () => {
    const png = await renderMathjax('\\sum_{i=1}^{n} \\frac{x_i^2}{\\sqrt[3]{y}}', 8)
    const canvas = await modelCanvas(png)
    assert.equal(canvas.length, INPUT_HEIGHT * INPUT_WIDTH)
    assert.ok(inkPixels(canvas) > 200)
  })

  it('TeX renders in every math font, and each font draws differently', async () => {
    const formula = '\\int_0^\\infty e^{-x^2} \\, dx = \\frac{\\sqrt{\\pi}}{2}'
    const canvases: Uint8Array[] = []
    for (const font of Object.keys(TEX_FONTS) as TexFont[]) {
      const [png] = await renderTex([formula], font, 150)
      assert.ok(png, `${font} did not render`)
      canvases.push(await modelCanvas(png))
    }
    for (let i = 1; i < canvases.length; i++) assert.notDeepEqual(canvases[i], canvases[0])
  })

  it('a formula TeX refuses costs only itself', async () => {
    const out = await renderTex(['x^2', '\\frac{1}{', 'y_1'], 'cm', 100)
    assert.ok(out[0] && out[2])
    assert.equal(out[1], null)
  })

  it('TeX that cannot run is an error, not a page of refused formulas', async () => {
    // Without latex on the PATH, a renderer that answered nulls would let build.ts fall back to
    // MathJax, and a seed would make other data on a machine whose TeX is not installed yet.
    const empty = await mkdtemp(join(tmpdir(), 'texmesh-nopath-'))
    const module = new URL('../scripts/datagen/render-tex.js', import.meta.url).href
    const code = `const { renderTex } = await import(${JSON.stringify(module)}); await renderTex(['x^2'], 'cm', 100)`
    try {
      await assert.rejects(
        run(process.execPath, ['--input-type=module', '-e', code], { env: { PATH: empty } }),
        (err: Error & { stderr: string }) => {
          assert.match(err.stderr, /TexUnavailableError: TeX cannot render the cm math font \(latex is not installed\)/)
          assert.match(err.stderr, /texlive-latex-base/)
          return true
        }
      )
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })

  it('augmentation degrades an image but keeps it readable, reproducibly', async () => {
    const png = await renderMathjax('a^2 + b^2 = c^2', 8)
    const clean = await modelCanvas(png)
    for (const profile of [TRAIN_AUGMENT, HELDOUT_B_AUGMENT]) {
      const x = await augment(png, new Rng(3), { ...profile, pAny: 1 })
      const y = await augment(png, new Rng(3), { ...profile, pAny: 1 })
      assert.deepEqual(x, y)
      const canvas = await modelCanvas(x)
      assert.notDeepEqual(canvas, clean)
      assert.ok(inkPixels(canvas) > inkPixels(clean) / 3)
    }
  })

  it('makes samples whose labels are canonical and within the length limit', async () => {
    const samples = await makeSamples(12345, 40, PROFILES.train!)
    assert.ok(samples.length >= 38)
    assert.ok(samples.some((s) => s.renderer.startsWith('mathjax')) && samples.some((s) => s.renderer.startsWith('tex-')))
    for (const s of samples) {
      assert.deepEqual(canonicalTokens(s.latex), s.tokens)
      assert.ok(s.tokens.length <= MAX_TOKENS)
    }
  })
})

describe('model input', () => {
  it('white-on-black reads like black-on-white', async () => {
    const png = await renderMathjax('E = mc^2', 10)
    const inverted = await sharp(png).negate({ alpha: false }).png().toBuffer()
    const a = await modelCanvas(png)
    const b = await modelCanvas(inverted)
    let diff = 0
    for (let i = 0; i < a.length; i++) diff += Math.abs(a[i]! - b[i]!)
    assert.ok(diff / a.length < 2, `mean difference ${diff / a.length}`)
  })

  it('a blank image has no ink', async () => {
    const blank = await sharp({ create: { width: 200, height: 50, channels: 3, background: '#f0f0f0' } }).png().toBuffer()
    await assert.rejects(modelCanvas(blank), NoInkError)
  })
})
