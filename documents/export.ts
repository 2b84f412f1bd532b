/**
 * A document's formulas back in their text: Markdown with `$...$` and `$$...$$` where the formulas
 * were, from the page's text layer (MuPDF's blocks and lines, in its reading order), or a LaTeX
 * file of the formulas alone, in order.
 */
import type { PageFormula } from './born-digital.js'
import type { PageChar } from './pdf.js'

/** Where formula i of the page goes in a page template. */
const slot = (i: number): string => `\u27E6${i}\u27E7`
const SLOT = /\u27E6(\d+)\u27E7/g

/**
 * A page's text with each formula replaced by a slot (its number on the page): blocks become
 * paragraphs, the lines of a block are joined (a word hyphenated at a line's end is joined again),
 * and a display formula stands in a paragraph of its own.
 */
export function pageTemplate (chars: readonly PageChar[], formulas: readonly Pick<PageFormula, 'chars' | 'display'>[]): string {
  const owner = new Int32Array(chars.length).fill(-1)
  formulas.forEach((f, i) => { for (const c of f.chars) owner[c] = i })
  const placed = new Set<number>()
  let out = ''
  let block = -1
  let line = -1
  /** the last character of text (a formula's scripts and fractions sit off the line) */
  let last: PageChar | undefined
  for (const [i, ch] of chars.entries()) {
    // A new block on the line where the last one ended (MuPDF cuts lines at inline formulas) goes on the same line.
    const sameLine = last != null && Math.abs(ch.baseline - last.baseline) < 0.5 * Math.max(ch.size, last.size)
    if (owner[i]! < 0) last = ch
    if (ch.block !== block && !sameLine) {
      out += '\n\n'
      block = ch.block
      line = ch.line
    } else if (ch.line !== line || ch.block !== block) {
      block = ch.block
      line = ch.line
      if (/\p{L}-$/u.test(out)) out = out.slice(0, -1)
      else out += ' '
    }
    const f = owner[i]!
    if (f < 0) {
      out += ch.c
      continue
    }
    if (placed.has(f)) continue
    placed.add(f)
    out += formulas[f]!.display ? `\n\n${slot(f)}\n\n` : slot(f)
  }
  const paragraphs = out.split(/\n{2,}/).map(p => p.replace(/[ \t]+/g, ' ').trim()).filter(p => p !== '')
  // A display formula's equation number, on its own after it, goes with it.
  return paragraphs.filter((p, i) => !(i > 0 && /^\(\d+(\.\d+)*[a-z]?\)$/.test(p) && /^\u27E6\d+\u27E7$/.test(paragraphs[i - 1]!))).join('\n\n')
}

/** A template with its formulas' LaTeX in place: `$...$` inline, `$$...$$` display. */
export function fillTemplate (template: string, formulas: ReadonlyArray<{ latex: string, display: boolean }>): string {
  return template.replace(SLOT, (_, n: string) => {
    const f = formulas[Number(n)]
    // A formula not read (yet, or refused) leaves a mark rather than an empty $$, which would open display math.
    if (f == null || f.latex === '') return '[formula not read]'
    return f.display ? `$$\n${f.latex}\n$$` : `$${f.latex}$`
  })
}

/** A document's pages as Markdown, a horizontal rule between pages. */
export function toMarkdown (pages: ReadonlyArray<{ template: string, formulas: ReadonlyArray<{ latex: string, display: boolean }> }>): string {
  return pages.map(p => fillTemplate(p.template, p.formulas)).join('\n\n---\n\n') + '\n'
}

/** A LaTeX file of a document's formulas, in reading order, with the page each is on. */
export function toLatex (file: string, formulas: ReadonlyArray<{ page: number, latex: string, display: boolean }>): string {
  const body: string[] = []
  let page = 0
  for (const f of formulas) {
    if (f.page !== page) body.push(`% page ${page = f.page}`)
    body.push(f.display ? `\\[ ${f.latex} \\]` : `\\( ${f.latex} \\)`)
  }
  return ['% The formulas of ' + file.replace(/[\r\n]/g, ' ') + ', as texmesh read them, in reading order.', '\\documentclass{article}', '\\usepackage{amsmath,amssymb}',
    '\\begin{document}', ...body, '\\end{document}', ''].join('\n')
}
