import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { canonicalize, canonicalTokens } from '../pipeline/latex/canonical.js'
import { checkLatex } from '../pipeline/latex/validate.js'
import { DEFAULT_MODEL_DIR } from '../pipeline/recognizer.js'
import { MAX_TOKENS, PROFILES } from '../scripts/datagen/build.js'
import { scanGrammar } from '../scripts/datagen/check-heldout-c.js'
import { isHeldoutC, readHeldoutC } from '../scripts/datagen/heldout-c-guard.js'
import { FormulaGenerator, type GrammarMix } from '../formulas/grammar.js'
import { TopicWriter } from '../formulas/topics.js'
import { Rng } from '../formulas/rng.js'

const vocab = new Set(JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'vocab.json'), 'utf8')) as string[])

function formulas (mix: GrammarMix, seed: number, n: number): string[] {
  const gen = new FormulaGenerator(new Rng(seed), mix)
  return Array.from({ length: n }, () => gen.formula())
}

describe('grammar mix v4 (notation formulas)', () => {
  it('leaves mix v3 as it was: the same formulas for the same seed', () => {
    // The hash of 200 formulas of seed 20240, taken before mix v4 was added: training data is remade from seeds.
    const hash = createHash('sha256').update(formulas('v3', 20240, 200).join('\n')).digest('hex').slice(0, 16)
    assert.equal(hash, '30fda723aa50337c')
  })

  it('is deterministic for a seed, differs from v3, and writes its constructions far more often than v3', () => {
    assert.deepEqual(formulas('v4', 5, 100), formulas('v4', 5, 100))
    assert.notDeepEqual(formulas('v4', 5, 100), formulas('v3', 5, 100))
    const constructs = /\\mathbf\{0\}|\{\}_|\{\}\^|\\arc(sin|cos)|\\oint (?!_)|_\{[^{}]*\\mid/
    const rate = (mix: GrammarMix) => formulas(mix, 9, 3000).filter((x) => constructs.test(x)).length / 3000
    const [v3, v4] = [rate('v3'), rate('v4')]
    assert.ok(v4 > 0.08 && v4 > 4 * v3, `formulas with the notation constructs: v3 ${v3}, v4 ${v4}`)
    const w = new TopicWriter(new Rng(3))
    const distinct = new Set(Array.from({ length: 3000 }, () => w.notationFormula())).size
    assert.ok(distinct > 2500, `${distinct} different notation formulas of 3,000`)
  })

  it('writes the constructions it is for within a few hundred formulas', () => {
    const w = new TopicWriter(new Rng(31))
    const xs = Array.from({ length: 600 }, () => w.notationFormula())
    const has = (what: string, re: RegExp) => assert.ok(xs.some((x) => re.test(x)), `no formula writes ${what}`)
    has('a contour integral with no limits', /\\oint (?!_)/)
    has('two contour integrals', /\\oint \\oint/)
    has('the bold zero vector', /\\mathbf\{0\}/)
    for (const f of ['\\arcsin', '\\arccos', '\\arctan']) has(f, new RegExp(f.replace('\\', '\\\\') + '\\b'))
    has('two fractions side by side', /\\frac[^ ]*\}\\frac/)
    has('a word subscript', /_\{[a-z]{3,}\}/)
    has('a capital subscript', /[A-Z]_\{[A-Z]\}/)
    has('scripts before a letter', /^\{\}_|\{\}\^/)
    has('a condition in a subscript', /_\{[^{}]*\\mid/)
    has('a hat over a bold letter with a subscript', /\\hat\{\\mathbf\{[a-z]\}\}_/)
    has('a floor around a fraction', /\\lfloor \\frac/)
    has('\\cdots', /\\cdots/)
    has('a semicolon in an argument list', /\([^()]*;[^()]*\)/)
  })

  it('every notation formula is in the vocabulary, parsed by KaTeX, and 5-60 tokens long', () => {
    const w = new TopicWriter(new Rng(8))
    for (let i = 0; i < 3000; i++) {
      const latex = w.notationFormula()
      const t = canonicalTokens(latex)
      assert.ok(t.length >= 5 && t.length <= Math.min(60, MAX_TOKENS), `${t.length} tokens: ${latex}`)
      for (const x of t) assert.ok(vocab.has(x), `token ${x} is not in the vocabulary: ${latex}`)
      const parsed = checkLatex(latex)
      assert.ok(parsed.ok, `${latex}: ${parsed.error}`)
      assert.ok(checkLatex(canonicalize(latex)).ok, `canonical form of ${latex}`)
    }
  })

  it('never writes a held-out C formula (20,000 formulas as build.ts draws them for seed 12)', () => {
    const heldout = new Map(readHeldoutC().map((f) => [f.tokens.join(' '), f.id] as const))
    const scan = scanGrammar(heldout, 12, 20_000, { mix: 'v4' })
    assert.equal(scan.checked, 20_000)
    assert.deepEqual(scan.matches, [])
    assert.deepEqual(formulas('v4', 1, 2000).filter((x) => isHeldoutC(canonicalTokens(x))), [])
  })

  it('profile clean-v4 is clean3 with the v4 grammar', () => {
    assert.equal(PROFILES['clean-v4']?.grammar, 'v4')
    assert.deepEqual({ ...PROFILES['clean-v4'], grammar: 'v3' }, PROFILES.clean3)
  })
})
