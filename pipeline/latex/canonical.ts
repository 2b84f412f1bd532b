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
 *
 * The steps, each a module: tokens and groups (tokenize.ts), the commands the
 * rules know (commands.ts), the rules applied (emitter.ts), and tokens back
 * into a string (detokenize.ts).
 */
import { detokenize } from './detokenize.js'
import { Emitter } from './emitter.js'
import { parseGroups, tokenize } from './tokenize.js'

export { LatexSyntaxError, tokenize } from './tokenize.js'
export { SYMBOLS } from './commands.js'
export { detokenize }

/** The canonical token sequence of a LaTeX math string. Throws LatexSyntaxError on unbalanced input. */
export function canonicalTokens (src: string): string[] {
  return new Emitter(parseGroups(tokenize(src))).run()
}

/** The canonical string of a LaTeX math string. */
export function canonicalize (src: string): string {
  return detokenize(canonicalTokens(src))
}
