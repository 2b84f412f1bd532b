/**
 * How the topic formulas (mix 'v3', topics.ts) are typed: the notation of
 * textbooks and papers that the other productions rarely write, each in the
 * several ways people type it. Inline fractions with `/` (compound parts in
 * parentheses), differentials after `\,`, sums with their limits braced or
 * not, sized or plain delimiters, `\langle ... \rangle` and bra-kets, square
 * brackets for expectations, commutators and concentrations, vectors in bold
 * or with arrows, expectations as `\mathbb{E}` or `E`.
 *
 * Every command written here is one of the model's vocabulary
 * (models/texmesh-v1/vocab.json) once canonical: no `\iiint`, `\dagger`,
 * `\text`, `\operatorname` or `\mathcal`.
 */
import type { Rng } from './rng.js'
import { ExpressionWriter } from './expressions.js'

/** Indices, and letters of several kinds, as the topic templates draw them. */
export const INDICES = ['i', 'j', 'k', 'n', 'm', 'l'] as const
export const FUNCTION_LETTERS = ['f', 'g', 'h', 'u', 'F', 'G', '\\phi', '\\psi'] as const

const TALL = /\\frac|\\dfrac|\\tfrac|\\sum|\\prod|\\int|\\iint|\\oint|\\sqrt|\\binom|\\lim/

/** The text outside any braces: what is written at the top level. */
function outside (s: string): string {
  let t = s
  for (let u = t.replace(/\{[^{}]*\}/g, ''); u !== t; u = t.replace(/\{[^{}]*\}/g, '')) t = u
  return t
}

/** Is this a sum or difference at the top level (a + b, x - 1), not a sign (-x, A^-)? */
function isSum (s: string): boolean {
  return /[^\s^_(]\s*[-+]\s*\S/.test(outside(s)) || /\\pm|\\mp/.test(outside(s))
}

export class TopicStyle extends ExpressionWriter {
  constructor (readonly rng: Rng) {
    super(rng)
  }

  // ---- drawing ----------------------------------------------------------

  pick<T>(xs: readonly T[]): T {
    return this.r.pick(xs)
  }

  chance (p: number): boolean {
    return this.r.chance(p)
  }

  int (lo: number, hi: number): number {
    return this.r.int(lo, hi)
  }

  weighted<T>(xs: readonly (readonly [number, T])[]): T {
    return this.r.weighted(xs)
  }

  /** `s()` with probability p, else nothing. */
  opt (p: number, s: () => string): string {
    return this.r.chance(p) ? s() : ''
  }

  /** Two different items of a list. */
  two<T>(xs: readonly T[]): [T, T] {
    const a = this.r.pick(xs)
    for (;;) {
      const b = this.r.pick(xs)
      if (b !== a) return [a, b]
    }
  }

  // ---- scripts, fractions, delimiters -------------------------------------

  /** As ExpressionWriter's, but an operator name (\max, \min, ...) is always braced: V_{\max}, never V_\max. */
  override arg (s: string): string {
    if (/^\\(max|min|sup|inf|lim|log|ln|exp|sin|cos|tan|det|dim|ker|deg|arg|gcd|Pr)$/.test(s)) return `{${s}}`
    return super.arg(s)
  }

  override sup (s: string): string {
    return super.sup(s)
  }

  override sub (s: string): string {
    return super.sub(s)
  }

  override rel (): string {
    return super.rel()
  }

  /** A fraction, mostly \frac. */
  fr (num: string, den: string): string {
    const cmd = this.r.weighted([[16, '\\frac'], [1, '\\dfrac'], [0.5, '\\tfrac']] as const)
    return `${cmd}${this.arg(num)}${this.arg(den)}`
  }

  /** An inline fraction `a/b`: a sum on either side goes in parentheses, a product in the denominator may or may not. */
  sl (num: string, den: string): string {
    const n = isSum(num) ? `(${num})` : num
    const d = isSum(den) || (/\s/.test(outside(den).trim()) && this.r.chance(0.5)) ? `(${den})` : den
    return this.r.chance(0.85) ? `${n}/${d}` : `${n} / ${d}`
  }

  /** One half, as a \frac mostly (with probability p) or inline. */
  half (p = 0.75): string {
    return this.r.chance(p) ? this.fr('1', '2') : this.sl('1', '2')
  }

  /** Delimiters around s: sized with \left \right (or \big) mostly when s is tall, and sometimes when not. */
  delim (s: string, o: string, c: string, pTall = 0.85, pFlat = 0.12): string {
    const tall = TALL.test(s)
    // A delimiter that is a command (\langle, \lfloor) needs a space before a letter.
    if (!this.r.chance(tall ? pTall : pFlat)) return `${o}${/[a-z]$/.test(o) ? ' ' : ''}${s}${c}`
    const [l, r] = this.r.weighted([[8, ['\\left', '\\right']], [1, ['\\big', '\\big']], [1, ['\\Big', '\\Big']], [0.5, ['\\bigl', '\\bigr']]] as const)
    return `${l}${o} ${s} ${r}${c}`
  }

  par (s: string): string {
    return this.delim(s, '(', ')')
  }

  brk (s: string): string {
    return this.delim(s, '[', ']')
  }

  abs (s: string): string {
    return this.delim(s, '|', '|', 0.7, 0.05)
  }

  norm (s: string, sub = ''): string {
    return `${this.delim(s, '\\|', '\\|', 0.6, 0.05)}${sub ? this.sub(sub) : ''}`
  }

  /** A function applied: f(x), or f\left( x \right) now and then. */
  call (f: string, ...args: string[]): string {
    return `${f}${this.delim(args.join(', '), '(', ')', 0.6, 0.04)}`
  }

  /** `\left( \frac{a}{b} \right)^{n}`: a fraction in big parentheses, raised or not (not a \binom). */
  fracPow (num: string, den: string, power = ''): string {
    const p = this.r.chance(0.85) ? ['\\left', '\\right'] as const : this.r.pick([['\\big', '\\big'], ['\\Big', '\\Big'], ['', '']] as const)
    const body = `${p[0]}( ${this.fr(num, den)} ${p[1]})`
    return power ? `${body}${this.sup(power)}` : body
  }

  /** e^{s}, or exp of s when s is long. */
  expo (s: string): string {
    const long = s.length > 14 || TALL.test(s)
    if (long && this.r.chance(0.45)) return `\\exp${this.delim(s, '(', ')', 0.9, 0.3)}`
    return `e${this.sup(s)}`
  }

  // ---- calculus -----------------------------------------------------------

  /** A differential as typed: `\,dx` mostly, `dx`, `\,\mathrm{d}x`, `\; dx`. */
  d (v: string): string {
    return this.r.weighted<string>([[10, `\\,d${v}`], [4, ` d${v}`], [2, `\\, \\mathrm{d}${v}`], [1, `\\; d${v}`], [1, `\\, d ${v}`]])
  }

  /** Several differentials: `dx\,dy`, `dx \, dy`, `dx dy`, `\mathrm{d}x\,\mathrm{d}y`. */
  ds (...vs: string[]): string {
    const d = this.r.weighted([[6, 'd'], [1, '\\mathrm{d}']] as const)
    const join = this.r.weighted([[6, '\\,'], [3, ' \\, '], [2, ' '], [1, '\\;']] as const)
    return `${this.r.chance(0.8) ? '\\,' : ' '}${vs.map((v) => `${d}${v}`).join(join)}`
  }

  /** A sum (or product) with its index running from lo to hi; hi empty: the index below only. */
  sum (i: string, lo: string, hi: string, op = '\\sum'): string {
    const lim = this.r.chance(0.05) ? '\\limits' : ''
    if (lo === '') return `${op}${lim}${this.sub(i)}`
    if (hi === '') return `${op}${lim}${this.sub(`${i}=${lo}`)}`
    return `${op}${lim}${this.sub(`${i}=${lo}`)}${this.sup(hi)}`
  }

  /** A sum's usual limits: 1 to n, 0 to infinity, ... */
  sumTo (i: string, op = '\\sum'): string {
    const [lo, hi] = this.r.weighted<readonly [string, string]>([
      [5, ['1', this.pick(['n', 'N', 'm', 'K'])]], [4, ['0', '\\infty']], [3, ['1', '\\infty']], [2, ['0', this.pick(['n', 'N', 'n-1'])]],
      [1, ['-\\infty', '\\infty']], [1, ['', '']],
    ])
    return lo === '' ? this.sum(i, '', '', op) : this.sum(i, lo, hi, op)
  }

  /** Partial derivative ∂f/∂x, maybe of order 2. */
  pd (f: string, x: string, order = 1): string {
    if (order === 1) return this.fr(`\\partial ${f}`, `\\partial ${x}`)
    return this.fr(`\\partial${this.sup(String(order))} ${f}`, `\\partial ${x}${this.sup(String(order))}`)
  }

  /** Ordinary derivative df/dx, maybe of order 2. */
  dd (f: string, x: string, order = 1): string {
    if (order === 1) return this.fr(`d${f}`, `d${x}`)
    return this.fr(`d${this.sup(String(order))}${f}`, `d${x}${this.sup(String(order))}`)
  }

  // ---- letters and notation -------------------------------------------------

  /** A vector style for one formula: \mathbf{x}, \vec{x}, or plain. */
  vecStyle (): (x: string) => string {
    const k = this.r.weighted([[6, 'bf'], [3, 'vec'], [1, 'plain']] as const)
    // \mathbf leaves Greek letters and \ell as they are: an arrow, or nothing, rather than a label the image cannot show.
    return (x) => (k === 'plain' ? x : k === 'vec' || x.startsWith('\\') ? `\\vec${this.arg(x)}` : `\\mathbf${this.arg(x)}`)
  }

  /** The expectation's symbol. */
  ex (): string {
    return this.r.weighted([[6, '\\mathbb{E}'], [1, '\\mathbb E'], [3, 'E'], [0.5, '\\mathrm{E}']] as const)
  }

  /** An index: x_i or x_{i}. */
  ix (base: string, i: string): string {
    return `${base}${this.sub(i)}`
  }

  /** A Greek or Latin coefficient. */
  coef (): string {
    return this.r.weighted<() => string>([
      [3, () => this.pick(['\\alpha', '\\beta', '\\gamma', '\\lambda', '\\mu', '\\kappa', '\\eta', '\\sigma', '\\omega', '\\tau'])],
      [3, () => this.pick(['a', 'b', 'c', 'k', 'A', 'B', 'C', 'K', 'c_0', 'k_1', 'a_0'])],
      [2, () => String(this.int(2, 9))],
      [1, () => this.half()],
    ])()
  }

  // ---- laws of physical quantities ------------------------------------------

  /** A quantity of these, now and then with a subscript (x_0, v_1, E_{\max}, ...). */
  qty (syms: readonly string[]): string {
    const x = this.r.pick(syms)
    if (x.includes('_') || !this.r.chance(0.25)) return x
    return `${x}${this.sub(this.r.pick(['0', '0', '1', '2', 'i', 'n', 'k', 'e', 'f', 'c', '\\max', 'x', 'z', 'eff', 'tot']))}`
  }

  /** A monomial of quantities: maybe a coefficient, one to three factors, some raised. */
  mono (syms: readonly string[]): string {
    const c = this.r.weighted<() => string>([[8, () => ''], [2, () => String(this.r.int(2, 4))], [1, () => '4\\pi'], [1, () => '2\\pi'], [1, () => this.half()]])()
    const n = this.r.weighted([[4, 1], [4, 2], [2, 3]] as const)
    const fs = Array.from({ length: n }, () => {
      const q = this.qty(syms)
      return this.r.chance(0.3) ? `${q}${this.sup(this.r.pick(['2', '2', '3', '-1', '4', '1/2', 'n']))}` : q
    })
    return [c, ...fs].filter((x) => x !== '').join(' ')
  }

  /** A law's right-hand side made of these quantities: a monomial, a ratio, a root, a sum, an exponential decay, a wave. */
  law (syms: readonly string[]): string {
    const m = () => this.mono(syms)
    const pm = () => this.r.pick(['+', '-'])
    return this.r.weighted<() => string>([
      [3, () => m()],
      [4, () => this.fr(m(), m())],
      [2, () => this.sl(m(), m())],
      [2, () => `\\sqrt{${this.r.chance(0.5) ? this.fr(m(), m()) : this.sl(m(), m())}}`],
      [2, () => `${m()} ${pm()} ${m()}`],
      [1, () => `${m()} ${this.par(`${m()} ${pm()} ${m()}`)}`],
      [1, () => `${m()} e${this.sup(`-${this.sl(m(), m())}`)}`],
      [1, () => `${m()} \\${this.r.pick(['cos', 'sin'])}(${m()} ${pm()} ${this.qty(syms)})`],
      [1, () => `${this.fr(m(), m())} ${this.fracPow(m(), m(), this.r.pick(['2', '3/2', '-1', 'n', '1/2']))}`],
      [1, () => `${m()} \\ln ${this.par(this.sl(m(), m()))}`],
    ])()
  }

  /** A law: a quantity equal to an expression in the others, maybe with a second one beside it. */
  laws (syms: readonly string[]): string {
    const one = () => `${this.qty(syms)} ${this.r.weighted([[10, '='], [1, '\\approx'], [1, '\\propto']] as const)} ${this.law(syms)}`
    return this.r.chance(0.25) ? `${one()}${this.r.pick([', \\quad ', ',\\; ', ', \\qquad '])}${one()}` : one()
  }

  // ---- inner products and bra-kets ----------------------------------------

  inner (u: string, v: string): string {
    return this.delim(`${u}, ${v}`, '\\langle', '\\rangle', 0.4, 0.08)
  }

  ket (x: string): string {
    return this.r.chance(0.08) ? `\\left| ${x} \\right\\rangle` : `|${x}\\rangle`
  }

  bra (x: string): string {
    return this.r.chance(0.08) ? `\\left\\langle ${x} \\right|` : `\\langle ${x}|`
  }

  /** ⟨a|b⟩, or ⟨a|O|b⟩ with an operator between. */
  braket (a: string, b: string, op = ''): string {
    const bar = this.r.chance(0.1) ? ' \\mid ' : ' | '
    return op ? `\\langle ${a}${bar}${op}${bar}${b} \\rangle` : `\\langle ${a}${bar}${b} \\rangle`
  }
}
