/**
 * Stage 4's check: does a LaTeX string parse as TeX math? KaTeX's parser is
 * the judge (strict about arguments, braces and double scripts, as TeX is).
 */
import { createRequire } from 'node:module'
import type Katex from 'katex'

/** KaTeX, loaded on the first check rather than with every module that may check (17 ms, 10 MiB a process). */
let katex: typeof Katex | undefined
const load = (): typeof Katex => (katex ??= createRequire(import.meta.url)('katex') as typeof Katex)

export interface ParseCheck {
  ok: boolean;
  /** KaTeX's message when the string does not parse. */
  error?: string;
}

export function checkLatex (latex: string): ParseCheck {
  if (latex.trim().length === 0) return { ok: false, error: 'empty' }
  try {
    load().renderToString(latex, { throwOnError: true, strict: 'ignore', displayMode: true, output: 'mathml' })
    return { ok: true }
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) }
  }
}
