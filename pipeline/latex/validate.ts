/**
 * Stage 4's check: does a LaTeX string parse as TeX math? KaTeX's parser is
 * the judge (strict about arguments, braces and double scripts, as TeX is).
 */
import katex from 'katex'

export interface ParseCheck {
  ok: boolean;
  /** KaTeX's message when the string does not parse. */
  error?: string;
}

export function checkLatex (latex: string): ParseCheck {
  if (latex.trim().length === 0) return { ok: false, error: 'empty' }
  try {
    katex.renderToString(latex, { throwOnError: true, strict: 'ignore', displayMode: true, output: 'mathml' })
    return { ok: true }
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) }
  }
}
