/**
 * Whether a formula's brackets pair up: every `(`, `[`, `\{` and `\langle` closed by its own kind,
 * in order. Printed formulas nearly always pair them: every image of held-out A and B, and 2,848
 * of the 2,868 images of held-out C read as one region (the rest are half-open intervals and the
 * like). A reading that does not is often a `]` read as `|`, or a `[` as `(`.
 */
import { tokenize } from './tokenize.js'

const OPENER_OF: Readonly<Record<string, string>> = { ')': '(', ']': '[', '\\}': '\\{', '\\rangle': '\\langle' }
const OPENERS: ReadonlySet<string> = new Set(Object.values(OPENER_OF))

/** True when the brackets of `latex` pair up (and for a string that is no TeX: it is judged elsewhere). */
export function delimitersPair (latex: string): boolean {
  let tokens: string[]
  try {
    tokens = tokenize(latex)
  } catch {
    return true
  }
  const open: string[] = []
  for (const t of tokens) {
    if (OPENERS.has(t)) open.push(t)
    else if (t in OPENER_OF && open.pop() !== OPENER_OF[t]) return false
  }
  return open.length === 0
}
