/**
 * Generated documents for bench:documents (issue 26): pages of prose with display and inline
 * formulas, typeset by pdflatex in several fonts and layouts, with the truth of where each formula
 * is. The formulas are held-out C's (hand-typed, real: evaluation only, never training). Each
 * formula is set in its own colour, so close to black that it prints as black (RGB 0, k / 256,
 * k % 256 with k the formula's number in its document): a reader of the PDF's text layer finds its
 * characters by colour, and that is the truth of its box. The detector under test never looks at
 * colour.
 *
 *   node dist/scripts/datagen/documents.js --out DIR [--pages N] [--seed S]
 *
 * Writes DIR/doc-NN.pdf (a few pages each) and DIR/truth.jsonl, a line a document:
 * {"file", "font", "columns", "formulas": [{"id", "latex", "display"}]} (where TeX put each is in the PDF).
 */
import { Command } from 'commander'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Rng } from '../../formulas/rng.js'
import { readHeldoutC } from './heldout-c-guard.js'
import { TEX_FONTS, type TexFont } from './render-tex.js'

const run = promisify(execFile)

const WORDS = ('the of and a to in is that for it as with be by on this are we which from or an at can so if then its function value ' +
  'series sum term limit point set space map field force energy rate state system model proof case order result given shown ' +
  'below above note where hence thus since each every first second now follows gives holds also let consider take write').split(' ')

export interface DocumentTruth {
  file: string
  font: TexFont
  columns: 1 | 2
  formulas: Array<{ id: number, latex: string, display: boolean }>
}

/** Numbers as prose has them (years, counts, decimals, references), which are text, not formulas. */
function proseNumber (rng: Rng): string {
  const n = (lo: number, hi: number): number => lo + Math.floor(rng.next() * (hi - lo + 1))
  const kinds = [() => String(n(1600, 2025)), () => String(n(2, 500)), () => `${n(0, 99)}.${n(0, 9)}`, () => `Section ${n(1, 12)}`, () => `[${n(1, 40)}]`, () => `(${n(1, 30)})`, () => `${n(2, 90)}\\%`]
  return kinds[Math.floor(rng.next() * kinds.length)]!()
}

function sentence (rng: Rng, words: number): string {
  const w = Array.from({ length: words }, () => rng.next() < 0.06 ? proseNumber(rng) : WORDS[Math.floor(rng.next() * WORDS.length)]!)
  return w.join(' ').replace(/^./, c => c.toUpperCase()) + '.'
}

/** One document's LaTeX: `pages` pages of paragraphs, each with inline formulas and a display formula, every formula coloured by its number. */
function documentFor (rng: Rng, formulas: ReadonlyArray<{ latex: string }>, font: TexFont, columns: 1 | 2, pages: number):
{ tex: string, planned: Array<{ latex: string, display: boolean }> } {
  const inline = formulas.filter(f => f.latex.length <= 40)
  const display = formulas.filter(f => f.latex.length <= 160)
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rng.next() * a.length)]!
  const body: string[] = []
  const planned: Array<{ latex: string, display: boolean }> = []
  const colour = (latex: string, d: boolean): string => {
    planned.push({ latex, display: d })
    return `{\\color[RGB]{0,${planned.length >> 8},${planned.length & 255}}${latex}}`
  }
  for (let p = 0; p < pages; p++) {
    for (let para = 0; para < 4; para++) {
      const parts: string[] = []
      for (let s = 0; s < 3; s++) {
        parts.push(sentence(rng, 6 + Math.floor(rng.next() * 10)))
        if (rng.next() < 0.6) parts.push(`Here $${colour(pick(inline).latex, false)}$ ${sentence(rng, 3 + Math.floor(rng.next() * 6)).toLowerCase()}`)
      }
      body.push(parts.join(' '))
      if (rng.next() < 0.7) body.push(rng.next() < 0.5 ? `\\[ ${colour(pick(display).latex, true)} \\]` : `\\begin{equation} ${colour(pick(display).latex, true)} \\end{equation}`)
      body.push('')
    }
    body.push('\\clearpage')
  }
  const tex = ['\\documentclass[11pt' + (columns === 2 ? ',twocolumn' : '') + ']{article}', '\\usepackage{amsmath}', TEX_FONTS[font],
    '\\usepackage{xcolor}', '\\usepackage[margin=2cm]{geometry}', '\\pagestyle{empty}', '\\begin{document}', ...body, '\\end{document}'].join('\n')
  return { tex, planned }
}

/**
 * Generate `count` documents of `pages` pages into `out`; a document TeX refuses is drawn again.
 * The formulas are held-out C's (for measuring), or `formulas` (the grammar's, to train on).
 */
export async function generateDocuments (out: string, count: number, pages: number, seed: number,
  formulas: ReadonlyArray<{ latex: string }> = readHeldoutC()): Promise<DocumentTruth[]> {
  await mkdir(out, { recursive: true })
  const rng = new Rng(seed)
  const fonts: TexFont[] = ['cm', 'palatino', 'times']
  const truth: DocumentTruth[] = []
  const dir = await mkdtemp(join(tmpdir(), 'texmesh-docs-'))
  try {
    for (let d = 0; d < count; d++) {
      const font = fonts[d % fonts.length]!
      const columns = (Math.floor(d / fonts.length) % 2 === 0 ? 1 : 2) as 1 | 2
      for (let attempt = 0; ; attempt++) {
        const { tex, planned } = documentFor(rng, formulas, font, columns, pages)
        await writeFile(join(dir, 'd.tex'), tex)
        try {
          await run('pdflatex', ['-interaction=batchmode', '-halt-on-error', 'd.tex'], { cwd: dir, timeout: 120_000 })
        } catch (err) {
          if (attempt < 5) continue
          throw new Error(`pdflatex refused document ${d} five times (${(err as Error).message.slice(0, 200)})`)
        }
        const file = `doc-${String(d).padStart(2, '0')}.pdf`
        await writeFile(join(out, file), await readFile(join(dir, 'd.pdf')))
        truth.push({ file, font, columns, formulas: planned.map((x, i) => ({ id: i + 1, ...x })) })
        break
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  await writeFile(join(out, 'truth.jsonl'), truth.map(t => JSON.stringify(t)).join('\n') + '\n')
  return truth
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const opts = new Command('documents')
    .description('generate PDFs of prose with held-out C formulas, and where each formula is (bench:documents)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--count <n>', 'documents', v => Number(v), 12)
    .option('--pages <n>', 'pages a document', v => Number(v), 2)
    .option('--seed <n>', 'seed', v => Number(v), 26)
    .parse().opts<{ out: string, count: number, pages: number, seed: number }>()
  const t = await generateDocuments(opts.out, opts.count, opts.pages, opts.seed)
  console.log(`${t.length} documents, ${t.reduce((n, d) => n + d.formulas.length, 0)} formulas, in ${opts.out}`)
}

/** The number of the formula a character of a generated document belongs to (its colour), or 0 for text. */
export function formulaOfColour (color: readonly number[]): number {
  if (color.length !== 3 || color[0]! > 0.002 || color[1]! > 0.1) return 0
  return Math.round(color[1]! * 255) * 256 + Math.round(color[2]! * 255)
}
