import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { canonicalize, canonicalTokens } from '../pipeline/latex/canonical.js'
import { checkLatex } from '../pipeline/latex/validate.js'
import { DEFAULT_MODEL_DIR } from '../pipeline/recognizer.js'
import { MAX_TOKENS, PROFILES } from '../scripts/datagen/build.js'
import { isHeldoutC } from '../scripts/datagen/heldout-c-guard.js'
import { FormulaGenerator } from '../formulas/grammar.js'
import { TOPICS, type Topic } from '../formulas/topics.js'
import { Rng } from '../formulas/rng.js'

const vocab = new Set(JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'vocab.json'), 'utf8')) as string[])

function formulas (mix: 'v1' | 'v2' | 'v3', seed: number, n: number): string[] {
  const gen = new FormulaGenerator(new Rng(seed), mix)
  return Array.from({ length: n }, () => gen.formula())
}

describe('grammar mix v3 (topic formulas)', () => {
  it('leaves mixes v1 and v2 as they were: the same formulas for the same seed', () => {
    // Hashes of 200 formulas of seed 20240, taken before mix v3 was added: training data is remade from seeds.
    const hash = (xs: string[]) => createHash('sha256').update(xs.join('\n')).digest('hex').slice(0, 16)
    assert.equal(hash(formulas('v1', 20240, 200)), '28ed8b8532e768ae')
    assert.equal(hash(formulas('v2', 20240, 200)), '91d3cca32b89936a')
    // The default mix is v1.
    const gen = new FormulaGenerator(new Rng(20240))
    assert.deepEqual(Array.from({ length: 200 }, () => gen.formula()), formulas('v1', 20240, 200))
  })

  it('is deterministic for a seed and differs from v2', () => {
    assert.deepEqual(formulas('v3', 5, 100), formulas('v3', 5, 100))
    assert.notDeepEqual(formulas('v3', 5, 100), formulas('v2', 5, 100))
  })

  it('writes the notation real formulas use within a few hundred formulas', () => {
    const xs = formulas('v3', 31, 500)
    const tokens = xs.map((x) => canonicalTokens(x))
    const has = (what: string, test: (latex: string, t: string[]) => boolean) =>
      assert.ok(xs.some((x, i) => test(x, tokens[i]!)), `no formula writes ${what}`)
    has('\\langle', (x) => x.includes('\\langle'))
    has('\\iint', (x) => x.includes('\\iint'))
    has('an inline fraction a/b', (_, t) => t.includes('/'))
    has('square brackets', (_, t) => t.includes('[') && t.includes(']'))
    has('\\left( \\frac', (x) => /\\left\(\s*\\[dt]?frac/.test(x))
    has('\\mathbb{E}[...]', (x) => /\\mathbb\{?E\}?\s*(\\left|\\big|\\Big|\\bigl)?\[/.test(x))
    has('a bra-ket', (x) => /\|[^|]*\\rangle/.test(x))
    for (const f of ['\\dim', '\\ker', '\\sup']) has(f, (_, t) => t.includes(f))
  })

  it('every topic writes formulas, every one in the vocabulary and parsed by KaTeX', () => {
    const gen = new FormulaGenerator(new Rng(8), 'v3')
    for (const topic of Object.keys(TOPICS) as Topic[]) {
      const seen = new Set<string>()
      for (let i = 0; i < 300; i++) {
        const latex = gen.topicFormula(topic)
        seen.add(latex)
        const t = canonicalTokens(latex)
        assert.ok(t.length > 0 && t.length <= MAX_TOKENS, `${topic}: ${t.length} tokens: ${latex}`)
        for (const x of t) assert.ok(vocab.has(x), `${topic}: token ${x} is not in the vocabulary: ${latex}`)
        const parsed = checkLatex(latex)
        assert.ok(parsed.ok, `${topic}: ${latex}: ${parsed.error}`)
        assert.ok(checkLatex(canonicalize(latex)).ok, `${topic}: canonical form of ${latex}`)
      }
      assert.ok(seen.size > 200, `${topic}: only ${seen.size} different formulas in 300`)
    }
  })

  it('every token of 5,000 v3 formulas is in the vocabulary, and topic formulas are 10-90 tokens long, mostly', () => {
    const gen = new FormulaGenerator(new Rng(77), 'v3')
    for (let i = 0; i < 5000; i++) {
      const latex = gen.formula()
      for (const t of canonicalTokens(latex)) assert.ok(vocab.has(t), `token ${t} is not in the vocabulary: ${latex}`)
    }
    const lengths = Array.from({ length: 2000 }, () => canonicalTokens(gen.topicFormula()).length)
    const inRange = lengths.filter((n) => n >= 10 && n <= 90).length
    assert.ok(inRange >= 0.95 * lengths.length, `${inRange} of ${lengths.length} topic formulas are 10-90 tokens long`)
  })

  it('never writes a held-out C formula (20,000 formulas of seed 1)', () => {
    const hits = formulas('v3', 1, 20_000).filter((x) => isHeldoutC(canonicalTokens(x)))
    assert.deepEqual(hits, [])
  })

  it('profile clean3 is clean2 with the v3 grammar', () => {
    assert.equal(PROFILES.clean3?.grammar, 'v3')
    assert.deepEqual({ ...PROFILES.clean3, grammar: 'v2' }, PROFILES.clean2)
  })
})
