/**
 * The formulas of a page that has no text layer (a scan), found in its pixels: the page is cut
 * into lines and words (layout.ts), each word judged prose, mathematics or a number
 * (word-classifier.ts), and
 * - a line set apart and centred (its equation number left out) is a display formula when at
 *   least half its words are mathematics; so is a line whose words all are;
 * - in the other lines, each run of mathematical words is an inline formula.
 * Boxes come back in points, as born-digital.ts gives them, with the prose words near each
 * formula (to blank out of its crop) and a page template for the Markdown export.
 */
import { DISPLAY_JOIN, layout, union, type Line, type PxBox } from './layout.js'
import type { GrayPage, PtBox } from './pdf.js'
import { WordClassifier, WordKind, wordCrop } from './word-classifier.js'

export interface ScannedFormula {
  box: PtBox
  display: boolean
  /** prose words near it, to blank out of its crop */
  foreign: PtBox[]
}

/** A number this many word spaces or more from a formula is prose beside it. */
const SPACED = 0.9
/** A prose-looking word at most this many x-heights wide between two mathematical words is mathematics. */
const BRIDGE = 7
/** A prose-looking word at most this many x-heights wide, nearer a formula than CLOSE word spaces, is part of it. */
const SHORT = 3
const CLOSE = 0.8
/** An x-height is about this share of the body size (Computer Modern 0.43, Times 0.45, Palatino 0.47). */
const X_SHARE = 0.45

export interface ScannedPage {
  formulas: ScannedFormula[]
  /** the body size in points, from the x-height */
  body: number
  /** the page's formulas as slots (export.ts): prose, which is not read, as "…" */
  template: string
}

/** The formulas of a scanned page, in reading order (column by column, top to bottom, left to right). */
export async function findScannedFormulas (page: GrayPage, classifier: WordClassifier): Promise<ScannedPage> {
  const l = layout(page)
  const k = 72 / page.dpi
  const pt = (b: PxBox): PtBox => ({ x: b.left * k, y: b.top * k, width: (b.right - b.left + 1) * k, height: (b.bottom - b.top + 1) * k })
  const crops = l.lines.flatMap(line => line.words.map(w => wordCrop(page, line, w, l.xHeight)))
  const kinds = await classifier.classify(crops)
  let at = 0
  const mathOf = l.lines.map(line => formulaWords(line.words.map(() => kinds[at++]!), line.words, l.xHeight))
  const prose: PxBox[] = l.lines.flatMap((line, i) => line.words.filter((_, j) => !mathOf[i]![j]!))
  const formulas: Array<{ box: PxBox, display: boolean }> = []
  const paragraphs: string[] = []
  let paragraph: string[] = []
  const endParagraph = (): void => { if (paragraph.length > 0) paragraphs.push(paragraph.join(' ').replace(/(… )+…/g, '…')); paragraph = [] }
  let previous: Line | undefined
  let lastDisplay: { box: PxBox, line: Line } | undefined
  for (const [i, line] of l.lines.entries()) {
    const math = mathOf[i]!
    const share = math.filter(Boolean).length / Math.max(1, math.length)
    if (line.words.length > 0 && ((line.display && share >= 0.5) || share === 1)) {
      // A row of a display right under another (numerators, a row of limits) is part of it.
      const last = lastDisplay
      if (last != null && last.line.column === line.column && line.top - last.box.bottom <= DISPLAY_JOIN * l.xHeight &&
        line.left <= last.box.right && line.right >= last.box.left) {
        last.box = union(last.box, line)
        formulas.at(-1)!.box = last.box
        continue
      }
      endParagraph()
      paragraphs.push(`\u27E6${formulas.length}\u27E7`)
      formulas.push({ box: line, display: true })
      lastDisplay = { box: { ...line }, line }
      previous = undefined
      continue
    }
    lastDisplay = undefined
    // A gap of over a line's height, or a new column, starts a paragraph.
    if (previous != null && (line.column !== previous.column || line.top - previous.bottom > 1.2 * (previous.bottom - previous.top))) endParagraph()
    previous = line
    for (let j = 0; j < line.words.length;) {
      if (!math[j]!) { paragraph.push('…'); j++; continue }
      let box: PxBox = { ...line.words[j]! }
      for (j++; j < line.words.length && math[j]!; j++) box = union(box, line.words[j]!)
      paragraph.push(`\u27E6${formulas.length}\u27E7`)
      formulas.push({ box, display: false })
    }
  }
  endParagraph()
  const body = (l.xHeight * k) / X_SHARE
  const pad = 0.3 * body / k
  return {
    body,
    template: paragraphs.join('\n\n'),
    formulas: formulas.map(f => ({
      box: pt(f.box),
      display: f.display,
      foreign: prose.filter(w => w.right >= f.box.left - pad && w.left <= f.box.right + pad && w.bottom >= f.box.top - pad && w.top <= f.box.bottom + pad).map(pt)
    }))
  }
}

/**
 * Which words of a line belong to formulas. Runs of words that are not prose (mathematics, numbers,
 * specks) are formulas when they hold a mathematical word: a number alone is prose (digits look
 * the same in both), and so is a speck (a full stop set apart), which is left off a formula's ends.
 * A short prose word between two formulas is taken into them (operator names such as ln, det, mod,
 * which alone look like prose): on generated pages nearly every such word is mathematics
 * (bench:documents --scans), but two inline formulas with one short word between them ("$x$ and
 * $y$") come back as one.
 */
function formulaWords (kinds: readonly WordKind[], words: readonly PxBox[], xHeight: number): boolean[] {
  const speck = (w: PxBox): boolean => w.right - w.left + 1 < 0.5 * xHeight && w.bottom - w.top + 1 < 0.5 * xHeight
  const math = kinds.map((k, j) => k === WordKind.math && !speck(words[j]!))
  const out = kinds.map(() => false)
  // The line's word space: the median gap between two prose words.
  const proseGaps = words.slice(1).flatMap((w, j) => kinds[j] === WordKind.prose && kinds[j + 1] === WordKind.prose ? [w.left - words[j]!.right - 1] : []).sort((x, y) => x - y)
  const wordSpace = proseGaps.length >= 3 ? proseGaps[Math.floor(proseGaps.length / 2)]! : undefined
  const runs: Array<[number, number]> = []
  for (let j = 0; j < kinds.length;) {
    if (kinds[j] === WordKind.prose) { j++; continue }
    let end = j
    while (end + 1 < kinds.length && kinds[end + 1] !== WordKind.prose) end++
    let [a, b] = [j, end]
    // A speck at either end is punctuation; a number set off by a word space is prose beside the formula.
    const spaced = (x: number, y: number): boolean => wordSpace != null && words[y]!.left - words[x]!.right - 1 >= SPACED * wordSpace
    while (a <= b && (speck(words[a]!) || (kinds[a] === WordKind.number && a < b && spaced(a, a + 1)))) a++
    while (b >= a && (speck(words[b]!) || (kinds[b] === WordKind.number && b > a && spaced(b - 1, b)))) b--
    if (!math.slice(a, b + 1).some(Boolean)) { j = end + 1; continue }
    // A short prose-looking word closer to the formula than a word space is part of it: math letters
    // such as `Av` in `Av = \lambda v` look like a word, and the space around a relation is narrower
    // than one between words.
    const close = (x: number, y: number): boolean => wordSpace != null && words[y]!.left - words[x]!.right - 1 < CLOSE * wordSpace
    const short = (x: number): boolean => kinds[x] === WordKind.prose && words[x]!.right - words[x]!.left + 1 <= SHORT * xHeight
    if (a === j && a > 0 && short(a - 1) && close(a - 1, a)) a--
    if (b === end && b + 1 < kinds.length && short(b + 1) && close(b, b + 1)) b++
    runs.push([a, b])
    j = end + 1
  }
  for (const [a, b] of runs) out.fill(true, a, b + 1)
  for (let r = 1; r < runs.length; r++) {
    const gap = runs[r]![0] - runs[r - 1]![1] - 1
    const w = words[runs[r - 1]![1] + 1]!
    if (gap === 1 && w.right - w.left + 1 <= BRIDGE * xHeight) out[runs[r - 1]![1] + 1] = true
  }
  return out
}
