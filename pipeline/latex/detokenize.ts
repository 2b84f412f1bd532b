/**
 * Canonical tokens back into a LaTeX string: a space only where TeX needs one,
 * and a superscript moved next to the primes it follows (TeX reads a prime as
 * a superscript).
 */
import { isControlWord, matchingClose } from './tokenize.js'

/** The index just past the braced group that starts at `i`, or -1 when there is none. */
function groupEnd (tokens: readonly string[], i: number): number {
  if (tokens[i] !== '{') return -1
  const close = matchingClose(tokens, i, '{', '}')
  return close < 0 ? -1 : close + 1
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

/** Join canonical tokens into a LaTeX string (a space only where TeX needs one). */
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
