/**
 * What the model cannot read, told from the layout of a region's ink: an
 * array (a matrix or a determinant: rows and columns of entries between tall
 * delimiters), which the model's grammar has no way to write, and
 * prose, which is not a formula at all. The model reads both anyway, into
 * confident-looking nonsense (a 2x2 matrix as `A=\binom{1}{3}`); the pipeline
 * says which it is instead, and gives the answer no confidence.
 *
 * Both tests look only at connected components (segment.ts) and are strict,
 * so that formulas the model does read are never refused: a binomial
 * (one column), a fraction in parentheses (a bar between the rows), scripts
 * and limits (no gap wide enough to be a column) do not make an array; text
 * needs many letters standing on one baseline and the model's own doubt.
 */
import { components, INK_THRESHOLD, runs } from './segment.js'
import type { InkBox } from './model-input.js'

export type UnreadableReason = 'array' | 'text'

export interface Unreadable {
  /** array: a matrix or determinant (rows and columns of entries); text: prose, not a formula. */
  reason: UnreadableReason;
  /** In words, for people. */
  detail: string;
}

/** A delimiter around an array is at least this many glyph sizes tall, */
export const DELIMITER_HEIGHT = 2
/** and at most this share of its height wide. */
export const DELIMITER_ASPECT = 0.5
/** Entries on one row are apart by at least this many glyph sizes (a matrix's column space is about an em, 1.3 to 1.7 glyph sizes; the space around a minus sign, at 110 dpi, up to 0.9), */
export const COLUMN_SPACE = 1.1
/** and rows by more than this many (the bar of a \le is closer to the rest of it). */
export const ROW_SPACE = 0.25
/** A component this many glyph sizes wide, and four times as wide as high, is a rule (a fraction's bar, a root's). */
export const RULE_WIDTH = 2.5
/** A line of text has at least this many components (a paragraph two such lines or more, a lone line TEXT_LINE_COMPONENTS), */
export const TEXT_COMPONENTS = 24
export const TEXT_LINE_COMPONENTS = 40
/** at least this share of them standing on the line's baseline (within BASELINE_SLACK glyph sizes), */
export const TEXT_ON_BASELINE = 0.75
export const BASELINE_SLACK = 0.12
/** (a lone line: this share) */
export const TEXT_LINE_ON_BASELINE = 0.85
/** none taller than this many glyph sizes (no big operators, delimiters or stacked fractions), */
export const TEXT_TALLEST = 2
/** and the model's reading of it is less sure than this. */
export const TEXT_DOUBT = 0.3

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

const heightOf = (c: Box): number => c.bottom - c.top + 1
const widthOf = (c: Box): number => c.right - c.left + 1

/**
 * A fraction bar: a thin rule with ink straight above and below it, or a rule
 * much wider than a glyph (in a blurred scan a bar runs into the root sign
 * below it, and is one component with it).
 */
function isFractionBar (c: Box, others: readonly Box[], size: number): boolean {
  if (widthOf(c) >= RULE_WIDTH * size && widthOf(c) >= 4 * heightOf(c)) return true
  // (at least most of a glyph wide: the foot of a 2 or a 3, broken off at a low resolution, is not one)
  if (heightOf(c) > 0.2 * size || widthOf(c) < 3 * heightOf(c) || widthOf(c) < 0.7 * size) return false
  const under = (o: Box): boolean => o.left < c.right && c.left < o.right
  return others.some((o) => o !== c && under(o) && o.bottom < c.top) && others.some((o) => o !== c && under(o) && o.top > c.bottom)
}

/**
 * Entries in rows and columns between a tall delimiter and the next one of
 * about its height to its right: two rows or more, apart with space between
 * them and spanning most of the delimiters' height, each with the same number
 * (two or more) of entries a column space apart, the columns lined up, and no
 * fraction bar among them (fractions side by side in parentheses are laid out
 * much like that).
 */
export function findArray (glyphs: readonly Box[], size: number): { rows: number; columns: number } | null {
  const tall = glyphs
    .filter((c) => heightOf(c) >= DELIMITER_HEIGHT * size && widthOf(c) <= DELIMITER_ASPECT * heightOf(c))
    .sort((a, b) => a.left - b.left)
  for (const [i, open] of tall.entries()) {
    const h = heightOf(open)
    const close = tall.slice(i + 1).find((c) => Math.abs(c.top - open.top) <= 0.15 * h && Math.abs(c.bottom - open.bottom) <= 0.15 * h)
    if (close == null) continue
    const inside = glyphs.filter((c) => c.left > open.right && c.right < close.left && c.top >= open.top - 0.1 * h && c.bottom <= open.bottom + 0.1 * h)
    if (inside.length < 4 || inside.some((c) => isFractionBar(c, inside, size))) continue
    // Rows: apart with empty space between them, together most of the delimiter's height.
    const rows = runs(inside, (c) => c.top, (c) => c.bottom, ROW_SPACE * size)
    if (rows.length < 2) continue
    const spanned = Math.max(...inside.map((c) => c.bottom)) - Math.min(...inside.map((c) => c.top)) + 1
    if (spanned < 0.6 * h) continue
    const columns = rows.map((row) => runs(row, (c) => c.left, (c) => c.right, COLUMN_SPACE * size).map((col) => ({ left: Math.min(...col.map((c) => c.left)), right: Math.max(...col.map((c) => c.right)) })))
    const n = columns[0]!.length
    if (n < 2 || columns.some((cols) => cols.length !== n)) continue
    // Column k of every row overlaps column k of the first row (entries are centred in their column).
    const lined = columns.every((cols) => cols.every((col, k) => col.left <= columns[0]![k]!.right && columns[0]![k]!.left <= col.right))
    if (lined) return { rows: rows.length, columns: n }
  }
  return null
}

/**
 * Prose: lines of many letters on one baseline with nothing tall, which the
 * model reads with doubt; two such lines or more (a paragraph), or one long one.
 */
export function looksLikeText (glyphs: readonly Box[], size: number, confidence: number): boolean {
  if (confidence >= TEXT_DOUBT) return false
  const lines = runs(glyphs, (c) => c.top, (c) => c.bottom, 0)
  const textLines = lines.filter((line) => {
    if (line.length < TEXT_COMPONENTS || line.some((c) => heightOf(c) > TEXT_TALLEST * size)) return false
    const bottoms = line.map((c) => c.bottom).sort((a, b) => a - b)
    const baseline = bottoms[Math.floor(bottoms.length / 2)]!
    return line.filter((c) => Math.abs(c.bottom - baseline) <= BASELINE_SLACK * size).length >= TEXT_ON_BASELINE * line.length
  })
  const onText = textLines.reduce((n, l) => n + l.length, 0)
  // Most of the region's components are on lines of text.
  if (onText < 0.6 * glyphs.length) return false
  if (textLines.length >= 2) return true
  // A lone line: long, and more strictly on one baseline (a formula of many letters, say with
  // \bmod, is a line of letters too, but its operators stand off the baseline).
  const [line] = textLines
  if (line == null || line.length < TEXT_LINE_COMPONENTS) return false
  const baseline = line.map((c) => c.bottom).sort((a, b) => a - b)[Math.floor(line.length / 2)]!
  return line.filter((c) => Math.abs(c.bottom - baseline) <= BASELINE_SLACK * size).length >= TEXT_LINE_ON_BASELINE * line.length
}

/**
 * Whether a region of an ink map is something the model cannot read, and why;
 * null when it may be a formula. `glyph` is the image's glyph size (segment.ts),
 * `confidence` the model's (calibrated) confidence in its reading of the region.
 */
export function unreadable (ink: Uint8Array, width: number, box: InkBox, glyph: number, confidence: number): Unreadable | null {
  const crop = new Uint8Array(box.width * box.height)
  for (let y = 0; y < box.height; y++) crop.set(ink.subarray((box.top + y) * width + box.left, (box.top + y) * width + box.left + box.width), y * box.width)
  // Dots, primes and noise do not count.
  const glyphs = components(crop, box.width, box.height, INK_THRESHOLD).filter((c) => c.area > 4 && Math.max(widthOf(c), heightOf(c)) >= 0.35 * glyph)
  const array = findArray(glyphs, glyph)
  if (array != null) return { reason: 'array', detail: `an array of ${array.rows} rows and ${array.columns} columns (a matrix or determinant), which this model cannot write` }
  if (looksLikeText(glyphs, glyph, confidence)) return { reason: 'text', detail: 'lines of prose, not a formula' }
  return null
}
