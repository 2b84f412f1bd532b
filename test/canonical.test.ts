import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { canonicalize, canonicalTokens, detokenize, LatexSyntaxError, tokenize } from '../pipeline/latex/canonical.js'
import { corpusBleu, editDistance, normalizedEditDistance } from '../pipeline/latex/metrics.js'

describe('canonical LaTeX', () => {
  it('tokenizes control words, control symbols and characters', () => {
    assert.deepEqual(tokenize('\\alpha_1+\\{x\\}\\,\\frac12 % comment\n y'), [
      '\\alpha', '_', '1', '+', '\\{', 'x', '\\}', '\\,', '\\frac', '1', '2', 'y',
    ])
  })

  const same: [string, string][] = [
    ['x^2', 'x^{2}'],
    ['x^{2}', 'x^2'],
    ['x_i^2', 'x^2_i'],
    ['\\frac12', '\\frac{1}{2}'],
    ['\\frac a b', '\\frac{a}{b}'],
    ['{x}+{y}', 'x+y'],
    ['{{x}}', 'x'],
    ['a \\, b \\; c \\quad d \\qquad e \\! f', 'abcdef'],
    ['\\left( \\frac{a}{b} \\right)', '(\\frac{a}{b})'],
    ['\\left. \\frac{df}{dx} \\right|_{x=0}', '\\frac{df}{dx}|_{x=0}'],
    ['\\bigl[ x \\bigr]', '[x]'],
    ['a \\le b \\ge c \\ne d', 'a \\leq b \\geq c \\neq d'],
    ['x \\rightarrow 0', 'x \\to 0'],
    ['\\dfrac{1}{2} + \\tfrac{1}{3}', '\\frac{1}{2}+\\frac{1}{3}'],
    ['\\lbrace x \\rbrace', '\\{x\\}'],
    ['x \\not\\in A', 'x \\notin A'],
    ['f^{\\prime}(x)', "f'(x)"],
    ['f^{\\prime\\prime}_1', "f''_1"],
    ['\\mathbf{xy}', '\\mathbf{x}\\mathbf{y}'],
    ['\\mathbb R', '\\mathbb{R}'],
    ['\\sum\\limits_{i=1}^n i', '\\sum_{i=1}^{n}i'],
    ['\\sqrt[3] x', '\\sqrt[3]{x}'],
    ['\\displaystyle \\int_0^1 x\\,dx', '\\int_{0}^{1}xdx'],
    ['\\dots', '\\ldots'],
    ['a\\mid b', 'a \\mid b'],
  ]
  for (const [a, b] of same) {
    it(`${a}  ==  ${b}`, () => assert.equal(canonicalize(a), canonicalize(b)))
  }

  const different: [string, string][] = [
    ['x^2', 'x_2'],
    ['x^{2n}', 'x^2n'],
    ['\\frac{a+b}{c}', 'a+\\frac{b}{c}'],
    ['\\cdots', '\\ldots'],
    ['a|b', 'a\\mid b'],
    ['{}^{14}C', '^{14}C'],
    ['\\sqrt[3]{x}', '\\sqrt{3x}'],
  ]
  for (const [a, b] of different) {
    it(`${a}  !=  ${b}`, () => assert.notEqual(canonicalize(a), canonicalize(b)))
  }

  it('writes the canonical form as valid, re-readable LaTeX', () => {
    assert.equal(canonicalize('\\alpha x + \\sin \\theta'), '\\alpha x+\\sin\\theta')
    for (const src of ['x^2_i', "\\frac{d^2 y}{dx^2} + y' = \\sqrt[n]{\\mathbb R}", '\\left\\{ x \\mid x>0 \\right\\}']) {
      const once = canonicalTokens(src)
      assert.deepEqual(canonicalTokens(detokenize(once)), once)
    }
  })

  it('refuses unbalanced input with a LatexSyntaxError', () => {
    for (const bad of ['{x', 'x}', '\\frac{1}', 'x^', 'x^1^2', 'x_1_2', '\\sqrt[3 x', 'a\\']) {
      assert.throws(() => canonicalTokens(bad), LatexSyntaxError, bad)
    }
  })
})

describe('metrics', () => {
  it('edit distance and its normalised form', () => {
    assert.equal(editDistance(['a', 'b', 'c'], ['a', 'c']), 1)
    assert.equal(editDistance([], ['x', 'y']), 2)
    assert.equal(normalizedEditDistance(['a', 'b'], ['a', 'b']), 0)
    assert.equal(normalizedEditDistance(['a', 'b'], ['c', 'd']), 1)
    assert.equal(normalizedEditDistance(['a', 'b', 'c', 'd'], ['a', 'b', 'c']), 0.25)
  })

  it('BLEU is 1 for identical output, 0 with nothing shared, between for partial overlap', () => {
    const t = 'x ^ { 2 } + y ^ { 2 } = z ^ { 2 }'.split(' ')
    assert.equal(corpusBleu([{ truth: t, output: t }]), 1)
    assert.equal(corpusBleu([{ truth: t, output: ['a', 'b', 'c', 'd', 'e'] }]), 0)
    const partial = corpusBleu([{ truth: t, output: 'x ^ { 2 } + y ^ { 3 } = z ^ { 2 }'.split(' ') }])
    assert.ok(partial > 0.4 && partial < 1, String(partial))
    // Brevity penalty: a correct but short output scores below 1.
    assert.ok(corpusBleu([{ truth: t, output: t.slice(0, 8) }]) < 1)
  })
})
