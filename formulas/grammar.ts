/**
 * A seeded generator of printed formulas with realistic structure: identities,
 * sums and integrals with limits over expressions, fractions of polynomials,
 * derivatives, physics and statistics formulas, set notation, congruences.
 * It writes raw LaTeX the way people do (x^2 or x^{2}, \le or \leq, \left( or (,
 * spacing commands); the canonical form is the label.
 *
 * Whole formulas are made here; their symbols are in vocabulary.ts, their
 * expressions and writing style in expressions.ts, random formulas (mix
 * 'v2') in random-symbols.ts, and topic formulas (mix 'v3') in topics.ts.
 */
import type { Rng } from './rng.js'
import { ExpressionWriter, singleSpaced } from './expressions.js'
import { randomSymbols } from './random-symbols.js'
import { TopicWriter, type Topic } from './topics.js'
import { BB } from './vocabulary.js'

/** The share of topic formulas in mix 'v3'; the rest are drawn as mix 'v2' draws its formulas. */
export const V3_TOPIC_SHARE = 0.35
/** The share of notation formulas (topics-notation.ts) in mix 'v4'; the rest are drawn as mix 'v3' draws its formulas. */
export const V4_NOTATION_SHARE = 0.3

export type GrammarMix = 'v1' | 'v2' | 'v3' | 'v4'

export class FormulaGenerator extends ExpressionWriter {
  private readonly topics: TopicWriter

  /**
   * `mix` 'v1' writes the formulas v1 was trained on; 'v2' also writes formulas of random symbols
   * and structures (every token of the vocabulary, in no learned order: they keep the decoder
   * reading the image rather than guessing from its language prior) and long formulas of several
   * clauses (40-150 tokens, where v1 read worst); 'v3' also writes topic formulas (topics.ts: the
   * notation of textbooks and papers by topic, V3_TOPIC_SHARE of its formulas); 'v4' also writes
   * notation formulas (topics-notation.ts: constructions the others write rarely or one way,
   * V4_NOTATION_SHARE of its formulas). 'v1', 'v2' and 'v3' draw from the Rng exactly as before
   * the mixes after them were added.
   */
  constructor (
    r: Rng,
    private readonly mix: GrammarMix = 'v1'
  ) {
    super(r)
    this.topics = new TopicWriter(r) // draws nothing until a topic formula is asked for
  }

  // ---- formulas -------------------------------------------------------

  private bigop (depth: number): string {
    const i = this.r.pick(['i', 'k', 'n', 'j', 'm'])
    return this.r.weighted<() => string>([
      [4, () => `\\sum${this.sub(`${i}=${this.r.pick(['0', '1', '2'])}`)}${this.sup(this.r.pick(['n', 'N', '\\infty', 'k', 'n-1', 'm']))} ${this.expr(depth)}`],
      [1, () => `\\sum${this.sub(`${i} ${this.r.pick(['\\in', '\\leq', '<'])} ${this.r.pick(['S', 'n', 'N', 'A'])}`)} ${this.expr(depth)}`],
      [2, () => `\\prod${this.sub(`${i}=1`)}${this.sup(this.r.pick(['n', 'N', 'k', '\\infty']))} ${this.expr(depth)}`],
      [4, () => {
        const v = this.r.pick(['x', 't', 'u', 's', 'y', 'r', '\\theta'])
        const lo = this.r.pick(['0', '-\\infty', 'a', '1', '-1', '0'])
        const hi = this.r.pick(['1', '\\infty', 'b', 'x', '\\pi', '2\\pi', 'T'])
        const lims = this.r.chance(0.8) ? `${this.sub(lo)}${this.sup(hi)}` : ''
        return `\\int${lims} ${this.expr(depth)} \\, ${this.r.pick(['d', 'd', '\\mathrm{d}'])}${v}`
      }],
      [1, () => `\\oint${this.sub(this.r.pick(['C', '\\gamma', '\\partial S']))} ${this.expr(depth)} \\, d${this.r.pick(['s', 'z', '\\ell'])}`],
      [3, () => {
        const v = this.r.pick(['x', 'n', 'h', 't', 'k', '\\epsilon'])
        const to = this.r.pick(['0', '\\infty', 'a', '1', '0^+', '-\\infty'])
        return `\\lim${this.sub(`${v} ${this.r.chance(0.85) ? '\\to' : '\\rightarrow'} ${to}`)} ${this.expr(depth)}`
      }],
    ])()
  }

  /** A formula: of the kinds printed in papers and textbooks, with mix 'v2' sometimes random or long, with 'v3' also of a topic, with 'v4' also of notation. */
  formula (): string {
    if (this.mix === 'v4' && this.r.next() < V4_NOTATION_SHARE) return this.topics.notationFormula()
    if (this.mix === 'v3' || this.mix === 'v4') {
      // One draw, as 'v2' makes it: below the topic share a topic formula, above it v2's choice, rescaled.
      const k = this.r.next()
      if (k < V3_TOPIC_SHARE) return this.topicFormula()
      const k2 = (k - V3_TOPIC_SHARE) / (1 - V3_TOPIC_SHARE)
      if (k2 < 0.1) return this.randomSymbols()
      if (k2 < 0.25) return this.longFormula()
    }
    if (this.mix === 'v2') {
      const k = this.r.next()
      if (k < 0.1) return this.randomSymbols()
      if (k < 0.25) return this.longFormula()
    }
    return this.printedFormula()
  }

  /** A topic formula (mix 'v3'): of the topic given, or of one drawn by weight. */
  topicFormula (topic?: Topic): string {
    return this.topics.topicFormula(topic)
  }

  /** Formulas with structure of the kinds printed in papers and textbooks. */
  printedFormula (): string {
    const r = this.r
    const depth = r.weighted([[4, 0], [5, 1], [2, 2]] as const)
    const f = r.weighted<() => string>([
      // An expression related to another.
      [20, () => `${this.expr(depth)} ${this.rel()} ${this.expr(depth)}`],
      [6, () => this.expr(depth + 1)],
      // Polynomials and their fractions.
      [5, () => `${this.poly()} = 0`],
      [4, () => `${this.r.pick(['f', 'g', 'p', 'h', 'y'])}(x) = \\frac${this.arg(this.poly())}${this.arg(this.poly())}`],
      // Sums, products, integrals, limits.
      [14, () => `${this.bigop(Math.max(depth - 1, 0))} ${this.rel()} ${this.expr(Math.max(depth - 1, 0))}`],
      [4, () => this.bigop(depth)],
      // Derivatives.
      [6, () => this.derivative()],
      // Physics and statistics.
      [8, () => r.pick(this.named())()],
      // Sets and logic.
      [6, () => this.sets()],
      // Congruences and number theory.
      [3, () => this.numberTheory()],
      // Chains of equalities / identities.
      [4, () => `${this.expr(depth)} = ${this.expr(depth)} = ${this.expr(Math.max(depth - 1, 0))}`],
      // Lists, ellipses.
      [3, () => this.list()],
      // A formula with a condition.
      [3, () => `${this.expr(depth)} ${this.rel()} ${this.expr(depth)}${r.pick([',', ', ', ' \\quad ', ',\\;'])} ${this.condition()}`],
      // Implications.
      [2, () => `${this.expr(0)} ${this.rel()} ${this.expr(0)} ${r.pick(['\\Rightarrow', '\\Leftrightarrow', '\\to', '\\implies'])} ${this.expr(0)} ${this.rel()} ${this.expr(0)}`],
    ])()
    return singleSpaced(f)
  }

  /** Two to four clauses, side by side (a system, a definition with its conditions, a chain). */
  longFormula (): string {
    const r = this.r
    const n = r.weighted([[5, 2], [3, 3], [1, 4]] as const)
    const clauses = Array.from({ length: n }, () => this.printedFormula())
    const joins = [', \\quad ', ',\\; ', ', \\qquad ', ' \\quad ', ', ', ' \\Rightarrow ', ' \\implies ']
    return singleSpaced(clauses.reduce((acc, c) => `${acc}${r.pick(joins)}${c}`))
  }

  /** Symbols and structures in no learned order, each the vocabulary's, 3 to 40 items long. */
  randomSymbols (): string {
    return randomSymbols(this.r)
  }

  private poly (): string {
    const v = this.r.pick(['x', 'x', 'z', 't', 's', 'y'])
    const deg = this.r.int(1, 4)
    const terms: string[] = []
    for (let d = deg; d >= 0; d--) {
      if (d < deg && this.r.chance(0.35)) continue
      const c = this.r.chance(0.5) ? '' : this.r.pick(['2', '3', '5', 'a', 'b', 'c', '4', '7', 'a_{' + d + '}'])
      terms.push(d === 0 ? c || String(this.r.int(1, 9)) : d === 1 ? `${c}${v}` : `${c}${v}${this.sup(String(d))}`)
    }
    return terms.map((t, k) => (k === 0 ? t : ` ${this.r.pick(['+', '-'])} ${t}`)).join('')
  }

  private derivative (): string {
    const r = this.r
    const f = r.pick(['f', 'y', 'u', 'g', '\\phi', '\\psi', 'F', 'V'])
    const x = r.pick(['x', 't', 'r', 'z'])
    return r.weighted<() => string>([
      [3, () => `\\frac{d${f}}{d${x}} = ${this.expr(1)}`],
      [2, () => `\\frac{d${this.sup('2')}${f}}{d${x}${this.sup('2')}} ${r.pick(['+', '-'])} ${this.term(0)} \\frac{d${f}}{d${x}} ${r.pick(['+', '-'])} ${this.term(0)} ${f} = ${this.expr(0)}`],
      [3, () => `\\frac{\\partial ${f}}{\\partial ${x}} = ${this.expr(1)}`],
      [2, () => `\\frac{\\partial${this.sup('2')} ${f}}{\\partial ${x}${this.sup('2')}} + \\frac{\\partial${this.sup('2')} ${f}}{\\partial ${r.pick(['y', 't'])}${this.sup('2')}} = ${this.expr(0)}`],
      [2, () => `${f}'(${x}) = ${this.expr(1)}`],
      [2, () => `\\frac{d}{d${x}} ${this.paren(this.expr(1))} = ${this.expr(1)}`],
      [1, () => `\\nabla ${r.pick(['\\cdot', '\\times'])} \\vec{${r.pick(['E', 'B', 'F', 'v', 'A'])}} = ${this.expr(1)}`],
      [1, () => `\\nabla${this.sup('2')} ${f} = ${this.expr(1)}`],
    ])()
  }

  private named (): (() => string)[] {
    const r = this.r
    const v = () => this.variable()
    return [
      () => `E = m c${this.sup('2')}`,
      () => `F = ${r.pick(['m a', 'G \\frac{m_1 m_2}{r^2}', '-k x', 'q(\\vec{E} + \\vec{v} \\times \\vec{B})'])}`,
      () => 'i \\hbar \\frac{\\partial}{\\partial t} \\psi = \\hat{H} \\psi',
      () => `-\\frac{\\hbar${this.sup('2')}}{2m} \\nabla${this.sup('2')} \\psi + V \\psi = E \\psi`,
      () => 'P(A \\mid B) = \\frac{P(B \\mid A) P(A)}{P(B)}',
      () => `\\bar{${r.pick(['x', 'y', 'X'])}} = \\frac{1}{n} \\sum_{i=1}^{n} ${r.pick(['x', 'y', 'X'])}_i`,
      () => `\\sigma${this.sup('2')} = \\frac{1}{${r.pick(['n', 'n-1', 'N'])}} \\sum_{i=1}^{${r.pick(['n', 'N'])}} (x_i - \\bar{x})^2`,
      () => 'f(x) = \\frac{1}{\\sqrt{2 \\pi \\sigma^2}} \\exp \\left( -\\frac{(x - \\mu)^2}{2 \\sigma^2} \\right)',
      () => `${r.pick(['X', 'Y', 'Z'])} \\sim ${r.pick(['N', '\\mathcal{N}'])}(${r.pick(['\\mu', '0'])}, ${r.pick(['\\sigma^2', '1', '\\sigma^{2}'])})`.replace('\\mathcal{N}', 'N'),
      () => `E[${r.pick(['X', 'Y'])}] = \\sum_{${r.pick(['x', 'k'])}} ${r.pick(['x', 'k'])} \\, p(${r.pick(['x', 'k'])})`,
      () => this.asBefore('\\mathrm{Var}(X) = E[X^2] - (E[X])^2', (s) => s.replace('\\mathrm{Var}', 'V')),
      () => 'x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}',
      () => `e${this.sup('i \\pi')} + 1 = 0`,
      () => 'e^{i\\theta} = \\cos \\theta + i \\sin \\theta',
      () => `\\sin${this.sup('2')} ${r.pick(['x', '\\theta', '\\alpha'])} + \\cos${this.sup('2')} ${r.pick(['x', '\\theta', '\\alpha'])} = 1`,
      () => `(a + b)${this.sup('n')} = \\sum_{k=0}^{n} \\binom{n}{k} a${this.sup('n-k')} b${this.sup('k')}`,
      () => '\\binom{n}{k} = \\frac{n!}{k!(n-k)!}',
      () => '\\zeta(s) = \\sum_{n=1}^{\\infty} \\frac{1}{n^s}',
      () => `\\Gamma(${v()}) = \\int_0^\\infty t^{${v()} - 1} e^{-t} \\, dt`,
      () => '\\oint_{\\partial S} \\vec{E} \\cdot d\\vec{A} = \\frac{Q}{\\varepsilon_0}',
      () => '\\nabla \\times \\vec{B} = \\mu_0 \\vec{J} + \\mu_0 \\varepsilon_0 \\frac{\\partial \\vec{E}}{\\partial t}',
      () => 'p V = n R T',
      () => 'S = k_B \\ln \\Omega',
      () => `\\Delta ${r.pick(['x', 'E'])} \\, \\Delta ${r.pick(['p', 't'])} \\geq \\frac{\\hbar}{2}`,
      () => '\\lambda = \\frac{h}{p}',
      () => '\\omega = 2 \\pi f',
      () => '\\mathbf{F} = m \\mathbf{a}',
      () => '|a + b| \\leq |a| + |b|',
      () => `\\|${v()} + ${v()}\\| \\leq \\|${v()}\\| + \\|${v()}\\|`,
      () => this.asBefore(`\\langle ${v()}, ${v()} \\rangle = \\sum_i ${this.letter()}_i ${this.letter()}_i`, (s) => s.replace(/\\langle|\\rangle/g, (m) => (m === '\\langle' ? '(' : ')'))),
      () => '\\lim_{n \\to \\infty} \\left(1 + \\frac{1}{n}\\right)^n = e',
      () => '\\lim_{x \\to 0} \\frac{\\sin x}{x} = 1',
      () => '\\int_a^b f\'(x) \\, dx = f(b) - f(a)',
      () => '\\frac{d}{dx} \\int_a^x f(t) \\, dt = f(x)',
      () => '\\det(A - \\lambda I) = 0',
      () => '\\tan \\theta = \\frac{\\sin \\theta}{\\cos \\theta}',
      () => `\\log_{${r.pick(['2', 'b', 'a', '10'])}} (${v()} ${v()}) = \\log_{${r.pick(['2', 'b', 'a', '10'])}} ${v()} + \\log_{${r.pick(['2', 'b'])}} ${v()}`,
      () => '\\arctan x = \\sum_{n=0}^{\\infty} \\frac{(-1)^n x^{2n+1}}{2n+1}',
      () => `\\max_{${v()} \\in S} ${this.expr(1)} \\geq \\min_{${v()} \\in S} ${this.expr(1)}`,
      () => `\\gcd(${v()}, ${v()}) = 1`,
      () => '\\rho \\left( \\frac{\\partial \\vec{v}}{\\partial t} + \\vec{v} \\cdot \\nabla \\vec{v} \\right) = -\\nabla p + \\mu \\nabla^2 \\vec{v}',
      () => this.asBefore(`\\hat{${r.pick(['\\theta', '\\beta', 'y', '\\mu'])}} = \\arg \\min_{${r.pick(['\\theta', '\\beta'])}} \\sum_{i=1}^{n} (y_i - ${this.term(0)})^2`, (s) => s.replace('\\arg ', '')),
    ]
  }

  /** A formula as mixes 'v1' and 'v2' write it (rewritten), and as 'v3' does (as it is: \langle, \mathrm{Var}, \arg are the vocabulary's). */
  private asBefore (s: string, rewrite: (s: string) => string): string {
    return this.mix === 'v3' || this.mix === 'v4' ? s : rewrite(s)
  }

  private sets (): string {
    const r = this.r
    const S = () => r.pick(['A', 'B', 'C', 'S', 'X', 'Y', 'U', 'V'])
    const bb = () => `\\mathbb${this.arg(r.pick(BB.slice(0, 5)))}`
    return r.weighted<() => string>([
      [3, () => `\\forall ${this.variable()} \\in ${bb()}${r.pick([',', ':', ', '])} ${this.expr(0)} ${this.rel()} ${this.expr(0)}`],
      [2, () => `\\exists ${this.variable()} \\in ${r.pick([S(), bb()])} ${r.pick([':', '\\mid', ','])} ${this.expr(0)} ${this.rel()} ${this.expr(0)}`],
      [2, () => `${S()} ${r.pick(['\\cup', '\\cap'])} ${S()} ${r.pick(['\\subseteq', '\\subset', '='])} ${S()} ${r.pick(['\\cup', '\\cap'])} ${r.pick([S(), this.paren(`${S()} ${r.pick(['\\cup', '\\cap'])} ${S()}`)])}`],
      [3, () => `${S()} = \\{ ${this.variable()} \\in ${bb()} \\mid ${this.expr(0)} ${this.rel()} ${this.expr(0)} \\}`],
      [2, () => `${this.variable()} ${r.pick(['\\in', '\\notin', '\\not\\in'])} ${r.pick([S(), bb()])}`],
      [1, () => `f : ${bb()}${this.sup(r.pick(['n', '2', 'm']))} \\to ${bb()}`],
      [1, () => `${r.pick([S(), bb()])} \\subseteq ${r.pick([S(), bb()])}`],
      [1, () => `${S()} = \\{ ${this.list()} \\}`],
    ])()
  }

  private numberTheory (): string {
    const r = this.r
    const v = () => this.r.pick(['a', 'b', 'x', 'n', 'p', 'k', 'm', 'c'])
    return r.weighted<() => string>([
      [3, () => `${this.term(0)} \\equiv ${this.term(0)} \\pmod${this.arg(v())}`],
      [2, () => `${v()} \\bmod ${v()} = ${this.term(0)}`],
      [2, () => `\\gcd(${this.term(0)}, ${this.term(0)}) ${r.pick(['=', '\\mid'])} ${this.term(0)}`],
      [1, () => `${v()} \\mid ${this.term(0)}`],
    ])()
  }

  private list (): string {
    const r = this.r
    const v = r.pick(['a', 'x', 'b', 'v', 'e', 'y', 'p'])
    const dots = r.pick(['\\ldots', '\\dots', '\\ldots', '\\cdots'])
    return r.weighted<() => string>([
      [3, () => `${v}_1, ${v}_2, ${dots}, ${v}_${this.arg(r.pick(['n', 'N', 'k', 'm']))}`],
      [2, () => `${v}_1 + ${v}_2 + \\cdots + ${v}_${this.arg(r.pick(['n', 'N', 'k']))}`],
      [1, () => `${this.number()}, ${this.number()}, ${this.number()}, \\ldots`],
    ])()
  }

  private condition (): string {
    const r = this.r
    return r.weighted<() => string>([
      [3, () => `${this.variable()} ${r.pick(['>', '<', '\\geq', '\\neq', '\\leq'])} ${this.number()}`],
      [2, () => `${this.variable()} \\in ${r.pick(['\\mathbb{R}', '\\mathbb{N}', '\\mathbb{Z}', '[0, 1]', '(0, \\infty)', 'S'])}`],
      [1, () => `${r.pick(['n', 'k', 'i'])} = 1, \\ldots, ${r.pick(['N', 'n', 'm'])}`],
      [1, () => `\\forall ${this.variable()} \\in ${r.pick(['\\mathbb{R}', 'A', '\\Omega'])}`],
      [0.5, () => `${this.variable()} ${r.pick(['>', '\\geq'])} 0; ${this.variable()} ${r.pick(['<', '\\leq'])} ${this.number()}`],
    ])()
  }
}
