/**
 * The layout of a page that has no text layer (a scan): its ink cut into columns, lines and
 * words, by geometry alone. Lines whose place says "display formula" (set apart and centred in
 * their column, an equation number at the margin) are marked as such; the words of the other
 * lines are what the word classifier (word-classifier.ts) sorts into prose and mathematics.
 *
 * Scale comes from the page itself: the x-height is the median height of the components that
 * are letter-sized, so a page scanned at 150 dpi and one at 300 dpi are cut alike. Pages are
 * taken as straight (no deskewing).
 */
import { components, runs } from '../pipeline/segment.js'
import type { GrayPage } from './pdf.js'

/** A box in the page's pixels (inclusive bounds). */
export interface PxBox { left: number, top: number, right: number, bottom: number }

/** A word: its ink's box, and how many components make it. */
export interface Word extends PxBox { parts: number }

export interface Line extends PxBox {
  /** the column it is in */
  column: PxBox
  /** where its letters stand (the median bottom of its letter-sized components) */
  baseline: number
  words: Word[]
  /** set apart and centred: a display formula by its place alone */
  display: boolean
  /** an equation number at the column's edge, left out of `words` */
  number?: PxBox
}

export interface PageLayout {
  /** the typical x-height in pixels */
  xHeight: number
  columns: PxBox[]
  lines: Line[]
}

/** Ink starts this share of the way from the paper's grey to the ink's. */
const INK_SHARE = 0.4
/** A gap between ink rows this many x-heights or less stays inside one line (fraction bars, limits, scripts). */
const LINE_JOIN = 0.45
/** Letter-sized components whose middles lie within this many x-heights of each other's are on one line. */
const CORE_ZONE = 0.3
/** A group of letters narrower than this (x-heights) is a piece of a line (a numerator, limits), not one. */
const NARROW = 10
/** A group of letters that covers this share of its width or less is scattered scripts or limits, not a line of its own. */
const SCRIPT = 0.35
/** A mark, bar or script this close (x-heights) to a line is part of it. */
const ATTACH = 0.9
/** Pieces of a display (numerator, bar, denominator) this close, in x-heights, are one display. */
export const DISPLAY_JOIN = 1.6
/** A horizontal gap this many x-heights or wider separates words. */
const WORD_GAP = 0.45
/** A vertical gutter of white at least this many x-heights wide, down most of the page, separates columns. */
const GUTTER = 2.5
/** A display's margins on both sides are at least this many x-heights... */
const DISPLAY_MARGIN = 3.5
/** ...and differ by at most this share of their sum (centred). */
const DISPLAY_CENTRED = 0.3

const width = (b: PxBox): number => b.right - b.left + 1
export const union = (a: PxBox, b: PxBox): PxBox => ({ left: Math.min(a.left, b.left), top: Math.min(a.top, b.top), right: Math.max(a.right, b.right), bottom: Math.max(a.bottom, b.bottom) })

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? 0
}

/**
 * The grey level below which a pixel is ink: 40 % of the way from the paper (the median level)
 * to the ink (the darkest 0.1 %), so that grey paper, pale ink and blurred thin strokes are cut
 * alike; and at least five times the paper's noise below it.
 */
function inkLevel (data: Uint8Array): number {
  const histogram = new Float64Array(256)
  for (const v of data) histogram[v] = histogram[v]! + 1
  const level = (share: number): number => {
    let n = 0
    for (let v = 0; v < 256; v++) { n += histogram[v]!; if (n >= share * data.length) return v }
    return 255
  }
  const paper = level(0.5)
  const ink = level(0.001)
  // Never within the paper's own noise (a page with little ink: its darkest pixels are noise).
  const noise = Math.max(2, paper - level(0.16))
  return Math.min(paper - INK_SHARE * (paper - ink), paper - 5 * noise)
}

/** The page's layout. */
export function layout (page: GrayPage): PageLayout {
  const ink = new Uint8Array(page.data.length)
  for (let i = 0; i < ink.length; i++) ink[i] = 255 - page.data[i]!
  const all = components(ink, page.width, page.height, 255 - inkLevel(page.data))
  // x-height: components about as tall as wide, not specks, are mostly lower-case letters.
  const letters = all.filter(c => c.area >= 6 && c.bottom - c.top >= 3)
  const xHeight = Math.max(3, median(letters.map(c => c.bottom - c.top + 1)))
  const comps = all.filter(c => c.bottom - c.top + 1 >= 0.2 * xHeight || c.right - c.left + 1 >= 0.4 * xHeight)
  if (comps.length === 0) return { xHeight, columns: [], lines: [] }
  const columns = findColumns(comps, page.width, xHeight)
  const lines: Line[] = []
  for (const column of columns) {
    const inside = comps.filter(c => c.left >= column.left && c.right <= column.right)
    const bands = bandsOf(inside, xHeight)
    const col = inside.reduce<PxBox>((b, c) => union(b, c), { left: column.right, top: column.bottom, right: column.left, bottom: column.top })
    const colLines = bands.map(band => lineOf(band, col, xHeight))
    lines.push(...joinDisplays(colLines, xHeight))
  }
  return { xHeight, columns, lines }
}

/**
 * The components of a column in lines. Letter-sized components whose middles lie at one height
 * make a line (so a line's scripts and fractions never bridge it to the next); a narrow group of
 * them close to another (a numerator, a line of limits) joins it; every other component (marks,
 * bars, big operators, scripts) joins the line nearest to it, or stands apart when none is near.
 */
function bandsOf (comps: readonly PxBox[], xHeight: number): PxBox[][] {
  const h = (c: PxBox): number => c.bottom - c.top + 1
  const mid = (c: PxBox): number => (c.top + c.bottom) / 2
  const core = comps.filter(c => h(c) >= 0.6 * xHeight && h(c) <= 1.8 * xHeight && width(c) <= 3 * xHeight)
  const coreSet = new Set(core)
  type Band = PxBox & { comps: PxBox[] }
  const bandOf = (cs: PxBox[]): Band => ({ ...cs.reduce<PxBox>((b, c) => union(b, c), { ...cs[0]! }), comps: cs })
  let bands: Band[] = runs(core, c => mid(c) - CORE_ZONE * xHeight, c => mid(c) + CORE_ZONE * xHeight, 0).map(bandOf)
  // Narrow groups, and scattered ones (scripts, limits), join the nearest group above or below, when close.
  const inked = (b: Band): number => runs(b.comps, c => c.left, c => c.right, 0).reduce((sum, r) => sum + Math.max(...r.map(c => c.right)) - Math.min(...r.map(c => c.left)) + 1, 0)
  const small = (b: Band): boolean => width(b) <= NARROW * xHeight || inked(b) <= SCRIPT * width(b)
  for (let changed = true; changed;) {
    changed = false
    bands.sort((a, b) => width(a) - width(b))
    for (const [i, b] of bands.entries()) {
      if (!small(b)) continue
      const gap = (o: Band): number => Math.max(o.top - b.bottom, b.top - o.bottom)
      // Only a group that spans it: a display's numerator does not join the end of the paragraph above it.
      const spans = (o: Band): boolean => Math.min(o.right, b.right) - Math.max(o.left, b.left) >= 0.5 * width(b)
      const near = bands.filter((o, j) => j !== i && gap(o) <= LINE_JOIN * xHeight && spans(o)).sort((x, y) => gap(x) - gap(y))[0]
      if (near == null) continue
      bands = bands.filter(o => o !== b && o !== near)
      bands.push(bandOf([...near.comps, ...b.comps]))
      changed = true
      break
    }
  }
  const orphans: PxBox[] = []
  for (const c of comps) {
    if (coreSet.has(c)) continue
    const distance = (b: Band): number => Math.max(0, b.top - mid(c), mid(c) - b.bottom)
    const near = bands.reduce<Band | undefined>((best, b) => best == null || distance(b) < distance(best) ? b : best, undefined)
    if (near != null && distance(near) <= ATTACH * xHeight) near.comps.push(c)
    else orphans.push(c)
  }
  const out = [...bands.map(b => b.comps), ...runs(orphans, c => c.top, c => c.bottom, LINE_JOIN * xHeight)]
  return out.sort((a, b) => Math.min(...a.map(c => c.top)) - Math.min(...b.map(c => c.top)))
}

/** Columns: split at a white gutter near the middle that runs down most of the inked height. */
function findColumns (comps: readonly PxBox[], pageWidth: number, xHeight: number): PxBox[] {
  const top = Math.min(...comps.map(c => c.top))
  const bottom = Math.max(...comps.map(c => c.bottom))
  const left = Math.min(...comps.map(c => c.left))
  const right = Math.max(...comps.map(c => c.right))
  // Ink height covered in each pixel column.
  const cover = new Float64Array(pageWidth)
  for (const c of comps) for (let x = c.left; x <= c.right; x++) cover[x] = cover[x]! + c.bottom - c.top + 1
  let best: { from: number, to: number } | undefined
  let from = -1
  const lo = left + Math.floor((right - left) * 0.3)
  const hi = left + Math.ceil((right - left) * 0.7)
  for (let x = lo; x <= hi + 1; x++) {
    const clear = x <= hi && cover[x]! <= 0.02 * (bottom - top)
    if (clear && from < 0) from = x
    if (!clear && from >= 0) {
      if (x - from >= GUTTER * xHeight && (best == null || x - from > best.to - best.from)) best = { from, to: x - 1 }
      from = -1
    }
  }
  if (best == null) return [{ left, top, right, bottom }]
  return [{ left, top, right: best.from - 1, bottom }, { left: best.to + 1, top, right, bottom }]
}

/** A line from its components: words by horizontal gaps; an equation number set off at the right edge; whether it sits like a display. */
function lineOf (band: readonly PxBox[], col: PxBox, xHeight: number): Line {
  const box = band.reduce<PxBox>((b, c) => union(b, c), { ...band[0]! })
  const words: Word[] = runs(band, c => c.left, c => c.right, WORD_GAP * xHeight)
    .map(r => ({ ...r.reduce<PxBox>((b, c) => union(b, c), { ...r[0]! }), parts: r.length }))
    .sort((a, b) => a.left - b.left)
  // "(12)" flush right, far from the rest: an equation number (its parentheses may stand apart as words).
  let number: PxBox | undefined
  for (let i = words.length - 1; i > 0; i--) {
    const group = words.slice(i).reduce<PxBox>((b, w) => union(b, w), { ...words[i]! })
    if (width(group) > 5 * xHeight || col.right - group.right > 1.5 * xHeight) break
    if (words[i]!.left - words[i - 1]!.right >= 2.5 * xHeight) {
      number = group
      words.splice(i)
      break
    }
  }
  const inner = words.length > 0 ? words.reduce<PxBox>((b, w) => union(b, w), { ...words[0]! }) : box
  const leftMargin = inner.left - col.left
  const rightMargin = col.right - inner.right
  const display = leftMargin >= DISPLAY_MARGIN * xHeight && rightMargin >= DISPLAY_MARGIN * xHeight &&
    Math.abs(leftMargin - rightMargin) <= DISPLAY_CENTRED * (leftMargin + rightMargin)
  const letters = band.filter(c => c.bottom - c.top + 1 >= 0.6 * xHeight)
  const baseline = letters.length > 0 ? median(letters.map(c => c.bottom)) : box.bottom
  return { ...inner, top: box.top, bottom: box.bottom, column: col, baseline, words, display, ...(number != null ? { number } : {}) }
}

/**
 * Display pieces close above or below one another (a tall fraction, a sum with limits) are one
 * display. (A line of prose can sit as close: TeX closes up the space above a display that starts
 * right of where the line before it ends.)
 */
function joinDisplays (lines: readonly Line[], xHeight: number): Line[] {
  const out: Line[] = []
  for (const l of lines) {
    const prev = out.at(-1)
    const joins = prev != null && l.top - prev.bottom <= DISPLAY_JOIN * xHeight && prev.display && l.display
    if (joins) {
      const number = prev.number ?? l.number
      out[out.length - 1] = { ...union(prev, l), column: prev.column, baseline: prev.baseline, words: [...prev.words, ...l.words], display: true, ...(number != null ? { number } : {}) }
    } else {
      out.push(l)
    }
  }
  return out
}
