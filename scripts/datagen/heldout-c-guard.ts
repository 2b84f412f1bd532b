/**
 * Held-out C (datasets/heldout-c/source.jsonl): real formulas from textbooks and papers, typed by hand,
 * not made by the grammar. The model must never train on them: build.ts drops any generated formula
 * whose canonical form is one of these (isHeldoutC), and check-heldout-c.ts measures how often the
 * grammar writes one at all.
 *
 * This module reads and checks the source file's shape (one {"id", "topic", "latex"} object a line,
 * no repeated id, no repeated canonical form); heldout-c.ts adds the checks against the model
 * (vocabulary, length, KaTeX) before rendering.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { canonicalTokens } from '../../pipeline/latex/canonical.js'

/** The source file, found from dist/scripts/datagen/ (where this module runs) up to the repository root. */
export const HELDOUT_C_SOURCE = fileURLToPath(new URL('../../../datasets/heldout-c/source.jsonl', import.meta.url))

export const HELDOUT_C_TOPICS = [
  'calculus',
  'series',
  'probability',
  'linear-algebra',
  'mechanics',
  'electromagnetism',
  'quantum',
  'thermodynamics',
  'chemistry',
  'number-theory',
  'machine-learning',
] as const
export type HeldoutCTopic = (typeof HELDOUT_C_TOPICS)[number]

const SourceLine = z
  .object({
    id: z.string().regex(/^[a-z]+(-[a-z]+)*-\d{3}$/, 'an id like "calc-001"'),
    topic: z.enum(HELDOUT_C_TOPICS),
    latex: z.string().trim().min(1, 'empty LaTeX'),
  })
  .strict()

export interface HeldoutCFormula {
  id: string;
  topic: HeldoutCTopic;
  /** The LaTeX as written in the source (what gets rendered, and the truth). */
  latex: string;
  /** Its canonical tokens. */
  tokens: string[];
  /** Line number in the source file (1-based). */
  line: number;
}

/**
 * Parse the source text. Refuses the whole file, naming the line, on a line that is not such an
 * object, LaTeX the canonicaliser cannot read, a repeated id, or a repeated canonical form.
 */
export function parseHeldoutC (text: string, name = HELDOUT_C_SOURCE): HeldoutCFormula[] {
  const out: HeldoutCFormula[] = []
  const ids = new Map<string, number>()
  const forms = new Map<string, number>()
  text.split('\n').forEach((raw, i) => {
    const line = i + 1
    if (raw.trim().length === 0) return
    const where = `${name}:${line}`
    let json: unknown
    try {
      json = JSON.parse(raw)
    } catch {
      throw new Error(`${where}: not JSON`)
    }
    const r = SourceLine.safeParse(json)
    if (!r.success) {
      const issues = r.error.issues.map((x) => `${x.path.join('.') || '(line)'}: ${x.message}`).join('; ')
      throw new Error(`${where}: not a {"id", "topic", "latex"} object (${issues})`)
    }
    const { id, topic, latex } = r.data
    let tokens: string[]
    try {
      tokens = canonicalTokens(latex)
    } catch (err) {
      throw new Error(`${where}: ${id}: the canonicaliser cannot read its LaTeX (${(err as Error).message})`)
    }
    if (tokens.length === 0) throw new Error(`${where}: ${id}: no tokens`)
    const seenId = ids.get(id)
    if (seenId !== undefined) throw new Error(`${where}: id ${id} is already on line ${seenId}`)
    const form = tokens.join(' ')
    const seenForm = forms.get(form)
    if (seenForm !== undefined) throw new Error(`${where}: ${id} has the same canonical form as line ${seenForm}`)
    ids.set(id, line)
    forms.set(form, line)
    out.push({ id, topic, latex, tokens, line })
  })
  return out
}

/** Read and parse the source file. */
export function readHeldoutC (path = HELDOUT_C_SOURCE): HeldoutCFormula[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new Error(`held-out C: cannot read ${path} (${(err as Error).message})`)
  }
  return parseHeldoutC(text, path)
}

/** The canonical forms of held-out C: canonical tokens joined by one space. */
export function loadHeldoutC (path = HELDOUT_C_SOURCE): Set<string> {
  return new Set(readHeldoutC(path).map((f) => f.tokens.join(' ')))
}

let heldout: Set<string> | undefined

/** Is this canonical token sequence a held-out C formula? (The source file is read once, on first use.) */
export function isHeldoutC (tokens: readonly string[]): boolean {
  heldout ??= loadHeldoutC()
  return heldout.has(tokens.join(' '))
}
