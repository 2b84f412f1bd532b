/**
 * The grammar's expressions and its writing style: numbers, letters and
 * variables; factors, terms and sums; scripts and arguments braced or not,
 * parentheses sized or not, spacing commands now and then, as people write them.
 * FormulaGenerator (grammar.ts) builds whole formulas from these.
 */
import type { Rng } from './rng.js'
import { ACCENTS, BB, FUNCS, GREEK, GREEK_UP, LATIN, LATIN_UP, RELATIONS, SPACES } from './vocabulary.js'

/** A formula's source with every run of white space one space, and none at either end. */
export function singleSpaced (s: string): string {
  return s.replace(/\s+/g, ' ').trim()
}

export class ExpressionWriter {
  constructor (protected readonly r: Rng) {}

  // ---- writing style -------------------------------------------------

  /** A script or argument: braces optional when it is one token. */
  protected arg (s: string): string {
    const single = /^([A-Za-z0-9]|\\[a-zA-Z]+)$/.test(s)
    if (single && this.r.chance(0.4)) return ` ${s}`
    return `{${s}}`
  }

  protected sup (s: string): string {
    return `^${this.arg(s)}`
  }

  protected sub (s: string): string {
    return `_${this.arg(s)}`
  }

  /** Parentheses, sized with \left...\right when the content is tall (and sometimes when not). */
  protected paren (s: string, kind: '(' | '[' | '{' | '|' = '('): string {
    const [o, c] = kind === '(' ? ['(', ')'] : kind === '[' ? ['[', ']'] : kind === '{' ? ['\\{', '\\}'] : ['|', '|']
    const tall = /\\frac|\\sum|\\int|\\prod|\\binom|\\sqrt/.test(s)
    if (tall ? this.r.chance(0.8) : this.r.chance(0.1)) return `\\left${o} ${s} \\right${c}`
    return `${o}${s}${c}`
  }

  protected sp (): string {
    return this.r.chance(0.08) ? ` ${this.r.pick(SPACES)} ` : ' '
  }

  protected rel (): string {
    return this.r.weighted(RELATIONS)
  }

  // ---- atoms ----------------------------------------------------------

  number (): string {
    return this.r.weighted([
      [6, () => String(this.r.int(0, 9))],
      [3, () => String(this.r.int(10, 99))],
      [1, () => String(this.r.int(100, 9999))],
      [1, () => `${this.r.int(0, 9)}.${this.r.int(0, 99)}`],
    ])()
  }

  letter (): string {
    return this.r.weighted([
      [10, () => this.r.pick(['x', 'y', 'z', 'a', 'b', 'c', 'n', 'k', 'm', 't', 'i', 'j', 'f', 'g', 'p', 'q', 'r', 's', 'u', 'v', 'w'])],
      [3, () => this.r.pick(LATIN)],
      [3, () => this.r.pick(LATIN_UP)],
      [4, () => this.r.pick(GREEK)],
      [1, () => this.r.pick(GREEK_UP)],
      [0.5, () => this.r.pick(['\\ell', '\\hbar'])],
    ])()
  }

  /** A variable, maybe with an index, an accent, a prime or in bold. */
  variable (): string {
    let v = this.letter()
    const k = this.r.next()
    if (k < 0.06) v = `${this.r.pick(ACCENTS)}${this.arg(v)}`
    else if (k < 0.1 && /^[A-Za-z]$/.test(v)) v = `\\mathbf${this.arg(v)}`
    if (this.r.chance(0.25)) {
      const idx = this.r.weighted([
        [5, () => this.r.pick(['i', 'j', 'k', 'n', '0', '1', '2'])],
        [2, () => this.number()],
        [2, () => `${this.r.pick(['i', 'j', 'n', 'k'])}${this.r.pick(['+', '-'])}1`],
        [1, () => `${this.r.pick(['i', 'j'])}${this.r.pick(['j', 'k'])}`],
        [1, () => `${this.r.pick(['i', 'n'])}_${this.r.pick(['1', '2', 'k'])}`],
      ])()
      v += this.sub(idx)
    }
    if (this.r.chance(0.04)) v += this.r.chance(0.7) ? "'" : "''"
    return v
  }

  // ---- expressions ---------------------------------------------------

  /** A factor: variable, number, power, function call, root, fraction, parenthesised sum. */
  factor (depth: number): string {
    const deep = depth > 0
    return this.r.weighted<() => string>([
      [10, () => this.variable()],
      [5, () => this.number()],
      [6, () => `${this.variable()}${this.sup(this.exponent(depth))}`],
      [deep ? 3 : 0, () => `${this.r.pick(FUNCS)}${this.fnArg(depth - 1)}`],
      [deep ? 2 : 0, () => `\\sqrt${this.arg(this.expr(depth - 1))}`],
      [deep ? 0.7 : 0, () => `\\sqrt[${this.r.pick(['3', 'n', '4', 'k'])}]${this.arg(this.expr(depth - 1))}`],
      [deep ? 3 : 0, () => this.frac(depth - 1)],
      [deep ? 3 : 0, () => this.paren(this.expr(depth - 1), this.r.pick(['(', '(', '(', '[']))],
      [deep ? 1.5 : 0, () => `${this.paren(this.expr(depth - 1))}${this.sup(this.exponent(depth - 1))}`],
      [deep ? 1 : 0, () => `${this.r.pick(['f', 'g', 'h', 'F', 'G', 'u', 'p'])}${this.paren(this.args(depth - 1))}`],
      [deep ? 0.3 : 0, () => `${this.r.pick(['f', 'p', 'L', 'g'])}(${this.variable()}; ${this.r.pick(['\\theta', '\\mu, \\sigma', '\\lambda', 'a, b'])})`],
      [deep ? 0.8 : 0, () => this.paren(this.expr(depth - 1), '|')],
      [deep ? 0.5 : 0, () => `\\|${this.expr(depth - 1)}\\|`],
      [deep ? 0.6 : 0, () => `\\binom${this.arg(this.term(0))}${this.arg(this.term(0))}`],
      [0.5, () => `${this.r.pick(['n', 'k', '(n-k)', 'm', '2n'])}!`],
      [0.5, () => this.r.pick(['\\infty', '\\pi', 'e', '\\partial', '\\nabla', '\\hbar'])],
      [0.5, () => `\\mathbb${this.arg(this.r.pick(BB))}`],
    ])()
  }

  private fnArg (depth: number): string {
    return this.r.weighted<() => string>([
      [3, () => this.paren(this.expr(Math.max(depth, 0)))],
      [2, () => ` ${this.variable()}`],
      [1, () => `${this.sup('2')} ${this.variable()}`],
      [1, () => ` ${this.r.int(2, 9)}${this.variable()}`],
    ])()
  }

  private args (depth: number): string {
    const n = this.r.weighted([[5, 1], [3, 2], [1, 3]] as const)
    return Array.from({ length: n }, () => this.expr(Math.max(depth, 0))).join(', ')
  }

  exponent (depth: number): string {
    return this.r.weighted<() => string>([
      [6, () => this.r.pick(['2', '2', '3', 'n', 'k', '-1', '2n', 'n+1', 'x', '\\alpha', 'i', 'T', '*', '\\prime'])],
      [2, () => this.number()],
      [depth > 0 ? 2 : 0, () => this.expr(Math.min(depth - 1, 1))],
      [depth > 0 ? 0.7 : 0, () => `-${this.frac(0)}`],
      [depth > 0 ? 0.7 : 0, () => `${this.variable()}${this.sup(this.r.pick(['2', 'n', 'k']))}`],
    ])()
  }

  frac (depth: number): string {
    const num = this.r.chance(0.2) ? this.r.pick(['1', 'd', '\\partial', '1']) : this.expr(depth)
    const den = this.expr(depth)
    const cmd = this.r.weighted([[12, '\\frac'], [1, '\\dfrac'], [1, '\\tfrac']] as const)
    return `${cmd}${this.arg(num)}${this.arg(den)}`
  }

  /** A product of factors, maybe with a coefficient. */
  term (depth: number): string {
    const n = this.r.weighted([[6, 1], [4, 2], [1.5, 3]] as const)
    // A number only leads a product: juxtaposed numbers would read as one.
    const parts = Array.from({ length: n }, (_, k) => {
      for (;;) {
        const f = this.factor(depth)
        if (k === 0 || !/^[0-9.]+$/.test(f)) return f
      }
    })
    const sep = this.r.weighted([[12, ' '], [2, ' \\cdot '], [1, ' \\times ']] as const)
    let t = parts.join(sep)
    if (this.r.chance(0.15) && !/^[0-9.]/.test(t)) t = `${this.r.int(2, 12)}${t}`
    return t
  }

  /** A sum of terms. */
  expr (depth: number): string {
    const n = this.r.weighted([[6, 1], [5, 2], [3, 3], [1, 4]] as const)
    let s = this.r.chance(0.08) ? '-' : ''
    for (let k = 0; k < n; k++) {
      if (k > 0) s += this.sp() + this.r.weighted([[10, '+'], [7, '-'], [1, '\\pm'], [0.5, '\\mp']] as const) + this.sp()
      s += this.term(depth)
    }
    return s
  }
}
