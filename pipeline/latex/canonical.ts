/**
 * The canonical LaTeX form: one tokenizer and normaliser shared by data
 * generation, decoding and evaluation, so two answers can be compared exactly.
 *
 * Rules (each keeps what the formula looks like and means, and drops only
 * ways of writing it):
 * - script, fraction, root and accent arguments are always braced:
 *   `x^2` -> `x^{2}`, `\frac12` -> `\frac{1}{2}`;
 * - a subscript comes before a superscript; `^{\prime}` is written `'`;
 * - spacing (`\,` `\;` `\quad` ...), sizing (`\left` `\right` `\big` ...),
 *   `\limits` and `\displaystyle` go; `\left.` goes entirely;
 * - braces that are not an argument go (`{x}+{y}` -> `x+y`);
 * - synonyms map to one spelling (`\le` -> `\leq`, `\rightarrow` -> `\to`,
 *   `\dfrac` -> `\frac`, `\lbrace` -> `\{`, `\not\in` -> `\notin` ...);
 * - `\mathbf{ab}` is written `\mathbf{a}\mathbf{b}` (same for \mathbb and
 *   \mathrm over plain letters and digits).
 */

export class LatexSyntaxError extends Error {
  override name = 'LatexSyntaxError'
}

/** Split LaTeX source into tokens: control words, control symbols, single characters. */
export function tokenize (src: string): string[] {
  const out: string[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i]!
    if (c === '%') {
      while (i < src.length && src[i] !== '\n') i++
      continue
    }
    if (/\s/.test(c)) {
      i++
      continue
    }
    if (c === '\\') {
      const m = /^\\([a-zA-Z]+)/.exec(src.slice(i, i + 64))
      if (m) {
        out.push(m[0])
        i += m[0].length
      } else if (i + 1 < src.length) {
        out.push(src.slice(i, i + 2))
        i += 2
      } else {
        throw new LatexSyntaxError('a lone backslash at the end')
      }
      continue
    }
    const cp = src.codePointAt(i)!
    const ch = String.fromCodePoint(cp)
    out.push(ch)
    i += ch.length
  }
  return out
}

type Node = string | Group
interface Group {
  kind: 'group';
  items: Node[];
}

function parseGroups (tokens: readonly string[]): Node[] {
  const stack: Node[][] = [[]]
  for (const t of tokens) {
    if (t === '{') {
      stack.push([])
    } else if (t === '}') {
      if (stack.length === 1) throw new LatexSyntaxError('a closing brace without an opening one')
      const items = stack.pop()!
      stack[stack.length - 1]!.push({ kind: 'group', items })
    } else {
      stack[stack.length - 1]!.push(t)
    }
  }
  if (stack.length !== 1) throw new LatexSyntaxError('an opening brace that is never closed')
  return stack[0]!
}

/** Commands that only change spacing or size: dropped. */
const DROP = new Set([
  '\\,', '\\;', '\\:', '\\!', '\\ ', '~', '\\quad', '\\qquad', '\\thinspace', '\\medspace',
  '\\thickspace', '\\enspace', '\\negthinspace', '\\limits', '\\nolimits', '\\displaystyle',
  '\\textstyle', '\\nonumber', '\\notag', '\\mathstrut', '\\strut',
])
/** Delimiter sizing: dropped, and a following `.` (null delimiter) with it. */
const SIZING = new Set([
  '\\left', '\\right', '\\middle', '\\big', '\\Big', '\\bigg', '\\Bigg', '\\bigl', '\\bigr',
  '\\Bigl', '\\Bigr', '\\biggl', '\\biggr', '\\Biggl', '\\Biggr', '\\bigm', '\\Bigm',
])
const SYNONYM: Record<string, string> = {
  '\\le': '\\leq',
  '\\ge': '\\geq',
  '\\ne': '\\neq',
  '\\rightarrow': '\\to',
  '\\gets': '\\leftarrow',
  '\\lbrace': '\\{',
  '\\rbrace': '\\}',
  '\\lbrack': '[',
  '\\rbrack': ']',
  '\\vert': '|',
  '\\lvert': '|',
  '\\rvert': '|',
  '\\Vert': '\\|',
  '\\lVert': '\\|',
  '\\rVert': '\\|',
  '\\dots': '\\ldots',
  '\\dotsc': '\\ldots',
  '\\dotsb': '\\cdots',
  '\\lt': '<',
  '\\gt': '>',
  '\\dfrac': '\\frac',
  '\\tfrac': '\\frac',
  '\\dbinom': '\\binom',
  '\\tbinom': '\\binom',
  '\\land': '\\wedge',
  '\\lor': '\\vee',
  '\\lnot': '\\neg',
  '\\iff': '\\Leftrightarrow',
  '\\owns': '\\ni',
  '\\bf': '\\mathbf',
  '\\to': '\\to',
  '\\colon': ':',
  '\\dotsm': '\\cdots',
  '\\dotsi': '\\cdots',
  '\\varnothing': '\\emptyset',
  '\\mathbit': '\\boldsymbol',
}
/** Commands with mandatory arguments, by count. */
const ARITY: Record<string, number> = {
  '\\frac': 2,
  '\\binom': 2,
  '\\sqrt': 1,
  '\\hat': 1,
  '\\bar': 1,
  '\\vec': 1,
  '\\dot': 1,
  '\\ddot': 1,
  '\\tilde': 1,
  '\\widehat': 1,
  '\\widetilde': 1,
  '\\overline': 1,
  '\\underline': 1,
  '\\mathbb': 1,
  '\\mathbf': 1,
  '\\mathrm': 1,
  '\\mathcal': 1,
  '\\mathit': 1,
  '\\boldsymbol': 1,
  '\\operatorname': 1,
  '\\pmod': 1,
  '\\text': 1,
  '\\mathsf': 1,
  '\\mathfrak': 1,
  '\\overrightarrow': 1,
}
/** Known commands that take no argument: a group after one of them is not its argument. */
export const SYMBOLS: ReadonlySet<string> = new Set(
  (
    '\\alpha \\beta \\gamma \\delta \\epsilon \\varepsilon \\zeta \\eta \\theta \\vartheta \\iota \\kappa ' +
    '\\lambda \\mu \\nu \\xi \\pi \\rho \\sigma \\tau \\upsilon \\phi \\varphi \\chi \\psi \\omega ' +
    '\\Gamma \\Delta \\Theta \\Lambda \\Xi \\Pi \\Sigma \\Upsilon \\Phi \\Psi \\Omega ' +
    '\\leq \\geq \\neq \\approx \\equiv \\sim \\simeq \\propto \\pm \\mp \\times \\cdot \\div \\in \\notin \\ni ' +
    '\\subset \\subseteq \\supset \\supseteq \\cup \\cap \\forall \\exists \\to \\leftarrow \\Rightarrow \\Leftarrow ' +
    '\\Leftrightarrow \\leftrightarrow \\mapsto \\mid \\infty \\partial \\nabla \\hbar \\ell \\ldots \\cdots ' +
    '\\prime \\sum \\prod \\int \\iint \\oint \\lim \\sin \\cos \\tan \\cot \\sec \\csc \\arcsin \\arccos \\arctan ' +
    '\\sinh \\cosh \\tanh \\log \\ln \\exp \\min \\max \\sup \\inf \\det \\gcd \\bmod \\langle \\rangle ' +
    '\\lfloor \\rfloor \\lceil \\rceil \\| \\{ \\} \\wedge \\vee \\neg \\emptyset \\circ \\star \\ast \\perp \\parallel ' +
    '\\angle \\deg \\dim \\ker \\Pr \\arg \\limsup \\liminf \\not \\prec \\succ \\ll \\gg \\cong \\models \\vdash'
  ).split(' ')
)
/** Font commands whose argument may be split letter by letter. */
const SPLIT_FONT = new Set(['\\mathbf', '\\mathbb', '\\mathrm', '\\mathcal', '\\mathsf', '\\mathfrak'])

function isControlWord (t: string): boolean {
  return /^\\[a-zA-Z]+$/.test(t)
}

class Emitter {
  private readonly out: string[] = []
  constructor (private readonly nodes: Node[]) {}

  run (): string[] {
    this.seq(this.nodes)
    return this.out
  }

  /** Read one argument at position i of a sequence (a group or a single token). */
  private arg (items: Node[], i: number, what: string): [Node[], number] {
    // Dropped tokens between a command and its argument (`\frac \, 1 2`) are skipped.
    while (i < items.length && typeof items[i] === 'string' && DROP.has(items[i] as string)) i++
    const n = items[i]
    if (n === undefined) throw new LatexSyntaxError(`${what} is missing an argument`)
    if (typeof n === 'string') {
      if (n === '^' || n === '_') throw new LatexSyntaxError(`${what} has a script where an argument belongs`)
      return [[n], i + 1]
    }
    return [n.items, i + 1]
  }

  private braced (items: Node[]): void {
    this.out.push('{')
    this.seq(items)
    this.out.push('}')
  }

  /** Emit everything inside, flattened into canonical tokens. */
  private seq (items: Node[]): void {
    let i = 0
    while (i < items.length) {
      i = this.element(items, i)
    }
  }

  /** Emit one base (with its scripts); returns the next position. */
  private element (items: Node[], i: number): number {
    const n = items[i]!
    const start = this.out.length
    let next: number
    let emittedBase = true
    if (typeof n !== 'string') {
      const followedByScript = this.peekScript(items, i + 1)
      if (n.items.length === 0) {
        if (followedByScript) this.out.push('{', '}')
        else emittedBase = false
      } else if (followedByScript && !this.isAtom(n.items)) {
        this.braced(n.items)
      } else {
        this.seq(n.items)
        if (!followedByScript) return i + 1
      }
      next = i + 1
    } else {
      next = this.token(items, i)
      if (this.out.length === start) emittedBase = false
    }
    if (!emittedBase) return next
    return this.scripts(items, next)
  }

  private isAtom (items: Node[]): boolean {
    if (items.length !== 1) return false
    const only = items[0]!
    return typeof only === 'string' && !(only in ARITY)
  }

  private peekScript (items: Node[], i: number): boolean {
    const t = items[i]
    return t === '^' || t === '_' || t === "'"
  }

  /** Emit a single-token element (a command with its arguments, or a symbol). */
  private token (items: Node[], i: number): number {
    let t = items[i] as string
    if (DROP.has(t)) return i + 1
    if (SIZING.has(t)) {
      const nx = items[i + 1]
      return nx === '.' ? i + 2 : i + 1
    }
    if (t === '\\not') {
      const nx = items[i + 1]
      const target = typeof nx === 'string' ? (SYNONYM[nx] ?? nx) : undefined
      if (target === '\\in') { this.out.push('\\notin'); return i + 2 }
      if (target === '=') { this.out.push('\\neq'); return i + 2 }
      this.out.push('\\not')
      return i + 1
    }
    t = SYNONYM[t] ?? t
    if (t === '^' || t === '_' || t === "'") {
      // A script with no base (at the start, or after dropped tokens).
      return this.scripts(items, i)
    }
    const arity = ARITY[t]
    if (arity === undefined) {
      this.out.push(t)
      // A group right after an unknown command may be its argument: keep its braces.
      const nx = items[i + 1]
      if (isControlWord(t) && nx !== undefined && typeof nx !== 'string' && !SYMBOLS.has(t)) {
        this.braced(nx.items)
        return i + 2
      }
      return i + 1
    }
    let j = i + 1
    if (t === '\\sqrt' && items[j] === '[') {
      const close = this.matchBracket(items, j)
      this.out.push('\\sqrt', '[')
      this.seq(items.slice(j + 1, close))
      this.out.push(']')
      j = close + 1
      const [a, k] = this.arg(items, j, '\\sqrt')
      this.braced(a)
      return k
    }
    if (SPLIT_FONT.has(t)) {
      const [a, k] = this.arg(items, j, t)
      const plain = a.every((x) => typeof x === 'string' && /^[A-Za-z0-9]$/.test(x))
      if (plain && a.length > 1) {
        for (const ch of a) this.out.push(t, '{', ch as string, '}')
      } else {
        this.out.push(t)
        this.braced(a)
      }
      return k
    }
    this.out.push(t)
    for (let a = 0; a < arity; a++) {
      const [arg, k] = this.arg(items, j, t)
      this.braced(arg)
      j = k
    }
    return j
  }

  private matchBracket (items: Node[], open: number): number {
    let depth = 0
    for (let k = open; k < items.length; k++) {
      if (items[k] === '[') depth++
      else if (items[k] === ']') {
        depth--
        if (depth === 0) return k
      }
    }
    throw new LatexSyntaxError('an optional argument `[` that is never closed')
  }

  /** Collect primes, one subscript and one superscript after a base; emit them in canonical order. */
  private scripts (items: Node[], i: number): number {
    let primes = 0
    let sub: Node[] | undefined
    let sup: Node[] | undefined
    for (;;) {
      const t = items[i]
      if (t === "'") {
        primes++
        i++
      } else if (t === '_' || t === '^') {
        const [a, k] = this.arg(items, i + 1, t === '_' ? 'a subscript' : 'a superscript')
        if (t === '_') {
          if (sub) throw new LatexSyntaxError('a double subscript')
          sub = a
        } else {
          if (sup) throw new LatexSyntaxError('a double superscript')
          // ^{\prime\prime} is written ''; primes stay in front of what else the superscript holds.
          let p = 0
          while (p < a.length && a[p] === '\\prime') p++
          primes += p
          const rest = a.slice(p)
          if (rest.length > 0) sup = rest
        }
        i = k
      } else {
        break
      }
    }
    for (let p = 0; p < primes; p++) this.out.push("'")
    if (sub) {
      this.out.push('_')
      this.braced(sub)
    }
    if (sup) {
      this.out.push('^')
      this.braced(sup)
    }
    return i
  }
}

/** The canonical token sequence of a LaTeX math string. Throws LatexSyntaxError on unbalanced input. */
export function canonicalTokens (src: string): string[] {
  return new Emitter(parseGroups(tokenize(src))).run()
}

/** Join canonical tokens into a LaTeX string (a space only where TeX needs one). */
/** The index just past the braced group that starts at `i`, or -1 when there is none. */
function groupEnd (tokens: readonly string[], i: number): number {
  if (tokens[i] !== '{') return -1
  let depth = 0
  for (let k = i; k < tokens.length; k++) {
    if (tokens[k] === '{') depth++
    else if (tokens[k] === '}' && --depth === 0) return k + 1
  }
  return -1
}

/**
 * TeX reads a prime as a superscript, so the canonical order "x ' _ {0} ^ {2}"
 * would be a double superscript as a string: a superscript follows the primes
 * directly there ("x'^{2}_{0}"). The token order stays canonical.
 */
function primesBeforeSuperscript (tokens: readonly string[]): string[] {
  const out: string[] = []
  let i = 0
  while (i < tokens.length) {
    if (tokens[i] === "'" && tokens[i + 1] === '_') {
      const subEnd = groupEnd(tokens, i + 2)
      if (subEnd > 0 && tokens[subEnd] === '^') {
        const supEnd = groupEnd(tokens, subEnd + 1)
        if (supEnd > 0) {
          out.push("'", ...tokens.slice(subEnd, supEnd), ...tokens.slice(i + 1, subEnd))
          i = supEnd
          continue
        }
      }
    }
    out.push(tokens[i]!)
    i++
  }
  return out
}

export function detokenize (tokens: readonly string[]): string {
  tokens = primesBeforeSuperscript(tokens)
  let s = ''
  let prev = ''
  for (const t of tokens) {
    if (isControlWord(prev) && /^[A-Za-z]/.test(t)) s += ' '
    s += t
    prev = t
  }
  return s
}

/** The canonical string of a LaTeX math string. */
export function canonicalize (src: string): string {
  return detokenize(canonicalTokens(src))
}
