/**
 * The canonical form's rules applied (canonical.ts lists them): a walk over
 * the grouped tokens that emits each command with its arguments braced, a
 * base's scripts in canonical order, synonyms in their one spelling, and
 * drops spacing, sizing and braces that are not an argument.
 */
import { ARITY, DROP, SIZING, SPLIT_FONT, SYMBOLS, SYNONYM } from './commands.js'
import { isControlWord, LatexSyntaxError, matchingClose, type Node } from './tokenize.js'

/** The command tables as maps: this walk is on the path of every search's re-rank (memory/), and a miss in a map is cheaper than in an object. */
const SYNONYMS: ReadonlyMap<string, string> = new Map(Object.entries(SYNONYM))
const ARITIES: ReadonlyMap<string, number> = new Map(Object.entries(ARITY))

/** A token that starts a script or is a prime: `^`, `_` or `'`. */
function isScriptMark (t: Node | undefined): boolean {
  return t === '^' || t === '_' || t === "'"
}

export class Emitter {
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
      const followedByScript = isScriptMark(items[i + 1])
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
    return typeof only === 'string' && !ARITIES.has(only)
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
      const target = typeof nx === 'string' ? (SYNONYMS.get(nx) ?? nx) : undefined
      if (target === '\\in') { this.out.push('\\notin'); return i + 2 }
      if (target === '=') { this.out.push('\\neq'); return i + 2 }
      this.out.push('\\not')
      return i + 1
    }
    t = SYNONYMS.get(t) ?? t
    if (isScriptMark(t)) {
      // A script with no base (at the start, or after dropped tokens).
      return this.scripts(items, i)
    }
    const arity = ARITIES.get(t)
    if (arity === undefined) {
      this.out.push(t)
      // A group right after an unknown command may be its argument: keep its braces.
      const nx = items[i + 1]
      if (nx !== undefined && typeof nx !== 'string' && isControlWord(t) && !SYMBOLS.has(t)) {
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
    const close = matchingClose(items, open, '[', ']')
    if (close < 0) throw new LatexSyntaxError('an optional argument `[` that is never closed')
    return close
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
