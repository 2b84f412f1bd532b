/**
 * Formulas on a born-digital page, from its text layer (documents/pdf.ts): TeX and most math
 * typesetting set math in math fonts (Computer Modern's CMMI, CMSY, CMEX, the AMS symbol fonts,
 * the math fonts of other families), so characters in those fonts seed formulas. A formula then
 * takes in what touches it and belongs to math: upright digits and operators of the text font
 * (TeX sets `=`, `+`, `(`, digits from the text font), smaller characters beside or above and below
 * it (scripts, limits, the parts of a fraction), operator names (`sin`, `lim`), and the rules of
 * fraction bars. Text words are never taken in. A formula alone on its lines (but for an equation
 * number) is a display formula; one inside a line of text is inline.
 */
import type { PageChar, PtBox } from './pdf.js'

/** Font names of math fonts (the subset prefix dropped): Computer Modern and Latin Modern, AMS, Euler, RSFS, the txfonts/pxfonts/newtx families, STIX, Cambria, XITS and others named Math. */
const MATH_FONT = /^(CMMI|CMSY|CMEX|CMBSY|CMMIB|MSAM|MSBM|EUFM|EUFB|EURM|EURB|EUSM|EUSB|EUEX|RSFS|LMMathItalic|LMMathSymbols|LMMathExtension|TXMI|TXSY|TXEX|PXMI|PXSY|PXEX|RTXMI|RTXSY|NTXMI|NTXSY|NTXEXX|ZPLMR7M|ZPLMR7Y|MnSymbol|STIXMath|STIXTwoMath|StandardSymL|Symbol|MTMI|MTSY|MTEX)|Math/i
/**
 * Italic and bold text fonts: some math setups (mathptmx, mathpazo) take their math letters from
 * the text italic, and bold vectors and matrices (\mathbf) come from the text bold, which also set
 * emphasised words and headings. Their letters are formulas only as a lone letter in upright
 * text, or with math beside them.
 */
const WEAK_FONT = /Ital|Italic|Oblique|-It$|-Slant|Bold|Medi|Semibold|-Bd$|^CMBX|^CMTI/i
const EXTENSION_FONT = /^(CMEX|EUEX|TXEX|PXEX|NTXEXX)|MathExtension/i
/** Big operators, whatever their font (TeX's come from CMEX; other families have their own). */
const BIG_OPS = /^[∑∏∐∫∬∭∮⋃⋂⨁⨂⨀]$/u
/** Characters of the text font that belong to a formula they touch. */
const MATH_TEXT_CHARS = /^[0-9=+\-−×÷<>≤≥≠±∓()[\]{}|/!'′,.;:ˆ˜¯˙¨`´ˇ˘]$/u
/** Characters that are evidence of a formula on their own (not letters, digits or brackets). */
const OPERATORS = /^[=+−×÷<>≤≥≠±∓→←↔⇒⇔∈∉⊂⊆∪∩∑∏∫√∞∂∇·]$/u
/** What a digit follows with no space inside a formula: letters, digits, closing brackets, primes, `!`. */
const ENDS_ORD = /^[\p{L}\p{N})\]}|!′']$/u
/** Operator names set in the text font. */
const OPERATOR_NAMES = new Set(['sin', 'cos', 'tan', 'cot', 'sec', 'csc', 'sinh', 'cosh', 'tanh', 'arcsin', 'arccos', 'arctan', 'log', 'ln', 'lg', 'exp',
  'lim', 'liminf', 'limsup', 'max', 'min', 'sup', 'inf', 'det', 'dim', 'ker', 'deg', 'gcd', 'arg', 'Pr', 'mod', 'tr', 'rank', 'diag', 'sgn', 'Var', 'Cov', 'erf'])
/** Operator names whose limits go below them in display style. */
const LIMIT_NAMES = new Set(['lim', 'liminf', 'limsup', 'max', 'min', 'sup', 'inf'])
/** Text symbols that math fonts also set (bullets, footnote marks): alone, not a formula. */
const TEXT_SYMBOLS = /^[•†‡§¶∗◦·]$/u
/** Punctuation that ends a sentence after a formula rather than belonging to it. */
const TRAILING = /^[,.;:]$/

export function isMathFont (font: string): boolean {
  return MATH_FONT.test(font)
}

export interface PageFormula {
  /** the formula's box on the page, in points */
  box: PtBox
  display: boolean
  /** the text layer's characters of it, in reading order (for checks; the LaTeX comes from reading the rendered box) */
  text: string
  /** boxes of other characters within PAD of the box (text beside an inline formula), to blank out of a crop */
  foreign: PtBox[]
  /** its characters: indexes into the page's characters */
  chars: number[]
}

/** How far around a formula's box a crop reaches, in body sizes. */
export const PAD = 0.3

const right = (b: PtBox): number => b.x + b.width
const bottom = (b: PtBox): number => b.y + b.height
const overlapY = (a: PtBox, b: PtBox): number => Math.min(bottom(a), bottom(b)) - Math.max(a.y, b.y)
const overlapX = (a: PtBox, b: PtBox): number => Math.min(right(a), right(b)) - Math.max(a.x, b.x)
const gapX = (a: PtBox, b: PtBox): number => Math.max(a.x - right(b), b.x - right(a))
const gapY = (a: PtBox, b: PtBox): number => Math.max(a.y - bottom(b), b.y - bottom(a))

function union (boxes: readonly PtBox[]): PtBox {
  const x = Math.min(...boxes.map(b => b.x))
  const y = Math.min(...boxes.map(b => b.y))
  return { x, y, width: Math.max(...boxes.map(right)) - x, height: Math.max(...boxes.map(bottom)) - y }
}

/** The most common character size: the body text's. */
function bodySize (chars: readonly PageChar[]): number {
  const counts = new Map<number, number>()
  for (const c of chars) if (c.c.trim() !== '') counts.set(Math.round(c.size * 2) / 2, (counts.get(Math.round(c.size * 2) / 2) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 10
}

interface Glyph { c: string, font: string, size: number, box: PtBox, math: boolean, weak: boolean, word: string, index: number, big: boolean, block: number }

/** The formulas of one page, top to bottom and left to right, and the page's body text size (points). */
export function findFormulas (chars: readonly PageChar[], rules: readonly PtBox[]): { body: number, formulas: PageFormula[] } {
  const body = bodySize(chars)
  const small = 0.85 * body
  // Characters with the word (run of letters of one font, no space between) each letter is in.
  const glyphs: Glyph[] = []
  let run: Glyph[] = []
  const endRun = (): void => { const w = run.map(g => g.c).join(''); for (const g of run) g.word = w; run = [] }
  for (const [index, ch] of chars.entries()) {
    if (ch.c.trim() === '') { endRun(); continue }
    // TeX sets upper-case Greek from the text font; prose has almost none.
    const math = isMathFont(ch.font) || /^[ΓΔΘΛΞΠΣΥΦΨΩ]$/u.test(ch.c)
    // Boxes from the baseline and the size (a font's line box, which the text layer gives, can reach
    // into the lines above and below).
    const core = { x: ch.box.x, width: ch.box.width, y: ch.baseline - 0.75 * ch.size, height: ch.size }
    // Big operators and delimiters of TeX's extension fonts hang from their baseline, about two sizes
    // in display style (one in a line of text: set below, once the words are known).
    const box = EXTENSION_FONT.test(ch.font) ? { ...core, y: Math.min(core.y, ch.box.y), height: 2.8 * ch.size } : core
    const g: Glyph = { c: ch.c, font: ch.font, size: ch.size, box, math, weak: !math && WEAK_FONT.test(ch.font) && /^\p{L}$/u.test(ch.c), word: '', index, big: false, block: ch.block }
    if (/^\p{L}$/u.test(ch.c) && !g.math && (run.length === 0 || (run[0]!.font === ch.font && gapX(run[run.length - 1]!.box, ch.box) < 0.1 * body))) run.push(g)
    else { endRun(); if (/^\p{L}$/u.test(ch.c) && !g.math) run.push(g) }
    glyphs.push(g)
  }
  endRun()
  // An extension font's character with prose beside it on its line (words of three letters or more
  // of a text font, within four body sizes; it sits about three quarters of its size above the
  // line's baseline) is inline: its box is one line high, so that it does not reach the line below.
  // (MuPDF may give a formula a text block of its own, so nearness decides.)
  const prose = glyphs.filter(g => !g.math && !g.weak && g.word.length >= 3 && !OPERATOR_NAMES.has(g.word)).map(g => chars[g.index]!)
  for (const g of glyphs) {
    if (!EXTENSION_FONT.test(g.font)) continue
    const ch = chars[g.index]!
    if (prose.some(p => Math.abs(p.baseline - (ch.baseline + 0.75 * ch.size)) < 0.4 * ch.size && gapX(p.box, ch.box) < 4 * body)) g.box.height = 1.8 * ch.size
  }
  // (Italic and bold letters join what they touch: math set in the text italic has words of
  // several letters, such as ax + by. So italic prose beside a formula is taken in: measured on
  // none yet, see the README.)
  const joins = (g: Glyph): boolean => g.math || g.weak || MATH_TEXT_CHARS.test(g.c) || g.size < small || OPERATOR_NAMES.has(g.word)
  // Big operators (CMEX) hang below their quad, which covers only the font's line box: a display
  // integral or sum reaches about two body sizes down.
  for (const g of glyphs) {
    g.big = EXTENSION_FONT.test(g.font) || (g.math && BIG_OPS.test(g.c))
  }
  const bars = rules.filter(r => r.height < 0.15 * body && r.width > 0.2 * body)
  const n = glyphs.length
  const isBar = (i: number): boolean => i >= n
  const boxOf = (i: number): PtBox => isBar(i) ? bars[i - n]! : glyphs[i]!.box
  /** Whether b joins a formula that holds a. */
  const touches = (a: number, b: number): boolean => {
    const [ab, bb] = [boxOf(a), boxOf(b)]
    if (isBar(a) && isBar(b)) return false
    if (isBar(a) || isBar(b)) {
      // A fraction bar: beside a member at its height, or a member right above or below it.
      const [bar, other] = isBar(a) ? [ab, bb] : [bb, ab]
      const level = bar.y >= other.y - 0.2 * body && bar.y <= bottom(other) + 0.2 * body
      return (level && gapX(bar, other) < 0.5 * body) || (overlapX(bar, other) > 0 && gapY(bar, other) < 0.4 * body)
    }
    const [ga, gb] = [glyphs[a]!, glyphs[b]!]
    // A big operator's quad is narrower than its glyph too.
    const big = ga.big || gb.big
    // Beside it on its line. A number of the text font, or a reference such as `(6)`, a word space
    // after the formula's letters, digits or brackets is prose: `B = 0 in 1864`, not `B = 0 1864`,
    // and `S = k ln W 37 times`. (Inside a formula a digit follows a letter or a bracket with no
    // space; only after a relation or an operator is there one.)
    const plain = (g: Glyph): boolean => !g.math && !g.weak && MATH_TEXT_CHARS.test(g.c) && !OPERATORS.test(g.c)
    const reference = (y: Glyph): boolean => y.c === '(' && /^\(\d+\)/.test(chars.slice(y.index, y.index + 6).map(c => c.c).join(''))
    const prose = (x: Glyph, y: Glyph): boolean => !x.big && ENDS_ORD.test(x.c) && !OPERATOR_NAMES.has(x.word) && plain(y) && (/^[0-9]$/.test(y.c) || reference(y)) && x.box.x < y.box.x
    // A big operator reaches far beside it, but not to the next line: its box is set for a display
    // operator, and an inline one's reaches the line below. The text font's digits there are a
    // line away at half a body size, other characters of body size at three quarters.
    const centre = (b: PtBox): number => b.y + b.height / 2
    const offLine = (x: Glyph, y: Glyph): boolean => x.big && !y.big && y.size >= small &&
      Math.abs(centre(x.box) - centre(y.box)) > (plain(y) ? 0.5 : 0.75) * body
    if (offLine(ga, gb) || offLine(gb, ga)) return false
    // A citation a word space after a formula (`[12]`, `[3, 7]`) is prose too.
    const citation = (x: Glyph, y: Glyph): boolean => y.c === '[' && plain(y) && x.box.x < y.box.x &&
      /^\[\d+(, ?\d+)*\]/.test(chars.slice(y.index, y.index + 12).map(c => c.c).join(''))
    const reach = big ? 2 : prose(ga, gb) || prose(gb, ga) || citation(ga, gb) || citation(gb, ga) ? 0.2 : 0.5
    if (overlapY(ab, bb) > 0.2 * Math.min(ab.height, bb.height) && gapX(ab, bb) < reach * body) return true
    // Above or below: a limit (script size, centred) under or over a big operator or an operator name such as lim.
    // (An operator name's limit sits right under it: a script of the next line is a little further.)
    const limit = (op: Glyph, l: Glyph): boolean => l.size < small &&
      (op.big ? gapY(op.box, l.box) < 0.4 * body : LIMIT_NAMES.has(op.word) && l.box.y > op.box.y && gapY(op.box, l.box) < 0.05 * body) &&
      Math.abs(op.box.x + op.box.width / 2 - (l.box.x + l.box.width / 2)) < 0.6 * Math.max(op.box.width, l.box.width, LIMIT_NAMES.has(op.word) ? 1.5 * body : 0)
    return limit(ga, gb) || limit(gb, ga)
  }

  // Grow a formula from each math character not taken yet.
  const total = n + bars.length
  const taken = new Int32Array(total).fill(-1)
  const groups: number[][] = []
  for (let s = 0; s < n; s++) {
    // (\pmod and \bmod set `mod` in the text font, its argument often a digit: `(mod 4)` is math too.)
    if (!(glyphs[s]!.math || glyphs[s]!.weak || glyphs[s]!.word === 'mod') || taken[s]! >= 0) continue
    const id = groups.length
    const members = [s]
    taken[s] = id
    for (let i = 0; i < members.length; i++) {
      for (let j = 0; j < total; j++) {
        if (taken[j]! >= 0 || (!isBar(j) && !joins(glyphs[j]!)) || !touches(members[i]!, j)) continue
        taken[j] = id
        members.push(j)
      }
    }
    groups.push(members)
  }

  // Each group's characters in reading order, sentence punctuation before or after left out, and
  // groups that are italic letters alone dropped unless a lone letter or with evidence of math (an
  // emphasised word is not a formula).
  const parts = groups.map(members => {
    const ordered = members.filter(i => !isBar(i)).map(i => glyphs[i]!).sort((a, b) => a.box.x - b.box.x)
    while (ordered.length > 1 && TRAILING.test(ordered[ordered.length - 1]!.c) && !ordered[ordered.length - 1]!.math) ordered.pop()
    while (ordered.length > 1 && TRAILING.test(ordered[0]!.c) && !ordered[0]!.math) ordered.shift()
    return { members: new Set(members), ordered, bars: members.filter(isBar).map(boxOf) }
  }).filter(p => !(p.ordered.length === 1 && TEXT_SYMBOLS.test(p.ordered[0]!.c)) &&
    (p.ordered.some(g => g.math || OPERATORS.test(g.c) || g.size < small) ||
      (p.ordered.some(g => g.word === 'mod') && p.ordered.some(g => g.weak || /^[0-9]$/.test(g.c))) || (p.ordered.length === 1 && p.ordered[0]!.weak && p.ordered[0]!.word.length <= 1)))
  const boxOfPart = (p: typeof parts[number]): PtBox => union([...p.ordered.map(g => g.box), ...p.bars])
  // Its middle band (a tall formula reaches the lines around it), and what else is on it in the
  // text blocks of its characters (MuPDF's blocks: the other column of a two-column page is another).
  const middle = (b: PtBox): PtBox => ({ ...b, y: b.y + 0.25 * b.height, height: 0.5 * b.height })
  const blocksOf = (members: Set<number>): Set<number> => new Set([...members].filter(i => !isBar(i)).map(i => glyphs[i]!.block))
  const onLine = (b: PtBox, except: (i: number) => boolean, blocks: Set<number>): Glyph[] =>
    glyphs.filter((g, i) => !except(i) && blocks.has(g.block) && overlapY(g.box, middle(b)) > 0.3 * Math.min(g.box.height, 0.5 * b.height))
  const numberOnly = (gs: Glyph[]): boolean => gs.length === 0 || /^[,.;]?\(\d+(\.\d+)*[a-z]?\)$/.test(gs.map(g => g.c).join(''))
  // A display line of several groups (two formulas set side by side, "..., \quad ...", a relation
  // with a wide space around it) is one formula: all the groups on it, when nothing else is on it.
  for (let i = 0; i < parts.length; i++) {
    const a = parts[i]!
    const line = parts.filter((p, j) => j !== i && overlapY(middle(boxOfPart(a)), middle(boxOfPart(p))) > 0)
    if (line.length === 0) continue
    const group = [a, ...line]
    const blocks = new Set(group.flatMap(p => [...blocksOf(p.members)]))
    const rest = onLine(union(group.map(boxOfPart)), k => group.some(p => p.members.has(k)), blocks).filter(g => !TRAILING.test(g.c))
    if (!numberOnly(rest)) continue
    for (const b of line) {
      for (const k of b.members) a.members.add(k)
      a.ordered.push(...b.ordered)
      a.bars.push(...b.bars)
      parts.splice(parts.indexOf(b), 1)
    }
    a.ordered.sort((x, y) => x.box.x - y.box.x)
    i = parts.indexOf(a) - 1
  }
  const formulas: PageFormula[] = []
  for (const { members, ordered, bars: partBars } of parts) {
    const text = ordered.map(g => g.c).join('')
    const box = union([...ordered.map(g => g.box), ...partBars])
    // Display: nothing else on its lines but an equation number.
    const display = numberOnly(onLine(box, k => members.has(k), blocksOf(members)))
    const padded = { x: box.x - PAD * body, y: box.y - PAD * body, width: box.width + 2 * PAD * body, height: box.height + 2 * PAD * body }
    const kept = new Set(ordered)
    const foreign = glyphs.filter(g => !kept.has(g) && overlapX(g.box, padded) > 0 && overlapY(g.box, padded) > 0).map(g => g.box)
    formulas.push({ box, display, text, foreign, chars: ordered.map(g => g.index) })
  }
  // Reading order: MuPDF's, by each formula's first character (columns one after the other).
  formulas.sort((a, b) => Math.min(...a.chars) - Math.min(...b.chars))
  return { body, formulas }
}
