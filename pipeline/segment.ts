/**
 * Stage 2, segment: split an ink map into formula regions.
 *
 * Ink pixels are grouped into connected components. The typical glyph size
 * (the median of the components' larger side) sets the scale: components
 * whose vertical gap is at least LINE_GAP glyph sizes lie on different lines,
 * and on one line a horizontal gap of at least COLUMN_GAP glyph sizes starts
 * another region. Inside a formula the gaps are smaller than that: limits,
 * fraction bars, accents and \quad spacing keep a formula in one region.
 *
 * Specks (components of a few pixels) never start a region of their own: one
 * near a region joins its box, one far from all regions is dropped, which is
 * the denoising that matters for the crop. Regions come back top to bottom,
 * then left to right.
 *
 * A region too wide for the model's canvas (its glyphs would come out a few
 * pixels high) is read in pieces (readingPieces): cut at gaps in its ink that
 * run through its whole height, which in printed math are mostly the spaces
 * around relations and operators; a fraction bar or a root's rule spans its
 * whole width, so no cut falls inside one.
 */
import { INPUT_HEIGHT, INPUT_WIDTH, MARGIN, type GlyphGeometry, type InkBox } from './model-input.js'

/** Ink above this level (0..255) counts as ink, as in model-input's crop. */
export const INK_THRESHOLD = 110
/** A vertical gap of this many glyph sizes separates lines. */
export const LINE_GAP = 1.0
/** A horizontal gap of this many glyph sizes separates regions on one line. */
export const COLUMN_GAP = 8
/** A region with less ink than this share of the inkiest region's is noise. */
export const MIN_REGION_INK = 0.03
/** A component smaller than this share of the glyph size is a speck. */
export const SPECK = 0.35
/** A line narrower than this share of the widest line, close above or below another, is part of it (limits, scripts). */
export const SMALL_LINE = 0.3
/** How close (in glyph sizes) a small line must be to join its neighbour. */
export const SMALL_LINE_GAP = 2.5

/** A region's glyphs read smaller than this (pixels on the model's canvas) make it be read in pieces. */
export const PIECE_GLYPH_PX = 14
/** A piece ends at a gap in the ink at least this many glyph sizes wide. */
export const PIECE_GAP = 0.2
/**
 * A region too wide for a v2 model's widest canvas is read in pieces no wider than this many of its
 * glyphs (1,024 pixels at 16 px a glyph, about 50-70 tokens): the model reads long formulas less
 * well than short ones. Wide
 * lines of held-out A and B formulas side by side read at an edit distance of 0.35 (texmesh v2 at
 * 543 minutes) and 0.25 (840 minutes) in pieces of 1,024 pixels, against 0.44 and 0.45 in pieces of
 * 2,048. A single formula that fits the widest canvas is still read whole: cut at 1,024 pixels, the
 * 543-minute model read one more formula of 61-90 tokens and one more of 91+ wrong in held-out A's
 * 400 (scratch measure, 2026-12-06; the pipeline test `widerThanTheCanvas` keeps the check).
 */
export const PIECE_GLYPHS = 64

export interface Region {
  /** Box in the pixel coordinates of the (EXIF-rotated) image. */
  box: InkBox;
  /** The image's typical glyph size in pixels (the scale of the segmentation). */
  glyph: number;
}

interface Component {
  left: number;
  top: number;
  right: number;
  bottom: number;
  area: number;
}

/** 8-connected components of the ink above the threshold (two passes with union-find). */
export function components (ink: Uint8Array, width: number, height: number, threshold = INK_THRESHOLD): Component[] {
  const labels = new Int32Array(width * height)
  const parent: number[] = [0]
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]!]!
      a = parent[a]!
    }
    return a
  }
  const union = (a: number, b: number): number => {
    const ra = find(a)
    const rb = find(b)
    if (ra === rb) return ra
    const [lo, hi] = ra < rb ? [ra, rb] : [rb, ra]
    parent[hi] = lo
    return lo
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x
      if (ink[i]! <= threshold) continue
      let label = 0
      // Neighbours already visited: left, and the three above.
      const prev = [x > 0 ? labels[i - 1]! : 0]
      if (y > 0) {
        const up = i - width
        prev.push(x > 0 ? labels[up - 1]! : 0, labels[up]!, x + 1 < width ? labels[up + 1]! : 0)
      }
      for (const l of prev) {
        if (l === 0) continue
        label = label === 0 ? find(l) : union(label, l)
      }
      if (label === 0) {
        label = parent.length
        parent.push(label)
      }
      labels[i] = label
    }
  }
  const byRoot = new Map<number, Component>()
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = labels[y * width + x]!
      if (l === 0) continue
      const r = find(l)
      const c = byRoot.get(r)
      if (!c) byRoot.set(r, { left: x, top: y, right: x, bottom: y, area: 1 })
      else {
        if (x < c.left) c.left = x
        if (x > c.right) c.right = x
        c.bottom = y
        c.area++
      }
    }
  }
  return [...byRoot.values()]
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? 0
}

function merge (a: Component, b: Component): Component {
  return {
    left: Math.min(a.left, b.left),
    top: Math.min(a.top, b.top),
    right: Math.max(a.right, b.right),
    bottom: Math.max(a.bottom, b.bottom),
    area: a.area + b.area,
  }
}

/** Group items into runs along one axis: a gap of more than `gap` starts a new run. */
export function runs<T> (items: readonly T[], lo: (c: T) => number, hi: (c: T) => number, gap: number): T[][] {
  const sorted = [...items].sort((a, b) => lo(a) - lo(b))
  const out: T[][] = []
  let end = -Infinity
  for (const c of sorted) {
    if (out.length === 0 || lo(c) - end > gap) out.push([c])
    else out[out.length - 1]!.push(c)
    end = Math.max(end, hi(c))
  }
  return out
}

/**
 * Lines that are narrow next to the widest one and close to a neighbour are the
 * limits of a big operator or the script of a tall formula: join them to the
 * nearer neighbour they overlap horizontally.
 */
function joinSmallLines (lines: Component[][], size: number): Component[][] {
  const out = lines.map((l) => [...l])
  for (;;) {
    const boxes = out.map((l) => l.reduce(merge))
    const widest = Math.max(...boxes.map((b) => b.right - b.left + 1))
    let joined = false
    for (let i = 0; i < out.length && !joined; i++) {
      const b = boxes[i]!
      if (b.right - b.left + 1 >= SMALL_LINE * widest) continue
      const near = [i - 1, i + 1]
        .filter((j) => j >= 0 && j < out.length)
        .map((j) => ({ j, gap: j < i ? b.top - boxes[j]!.bottom : boxes[j]!.top - b.bottom }))
        .filter(({ j, gap }) => gap <= SMALL_LINE_GAP * size && boxes[j]!.left <= b.right && b.left <= boxes[j]!.right)
        .sort((p, q) => p.gap - q.gap)
      if (near.length > 0) {
        const j = near[0]!.j
        out[j]!.push(...out[i]!)
        out.splice(i, 1)
        joined = true
      }
    }
    if (!joined) return out
  }
}

/**
 * The typical glyph size: the median extent of the components that are not
 * specks next to the largest one, so that noise does not count.
 */
function glyphSize (all: Component[], extent: (c: Component) => number): number {
  const largest = all.reduce((m, c) => Math.max(m, c.area), 0)
  const main = all.filter((c) => c.area >= Math.max(5, 0.05 * largest))
  return Math.max(3, median((main.length > 0 ? main : all).map(extent)))
}

/** The larger side of a component's box. */
function extentOf (c: Component): number {
  return Math.max(c.right - c.left + 1, c.bottom - c.top + 1)
}

/**
 * The typical glyph size of an ink map in pixels (0 when it has no ink): the scale that
 * segmentation works in, and the one the model's input is normalised to (model-input.ts).
 */
export function glyphSizeOf (ink: Uint8Array, width: number, height: number, threshold = INK_THRESHOLD): number {
  const all = components(ink, width, height, threshold)
  return all.length === 0 ? 0 : glyphSize(all, extentOf)
}

/** Regions whose boxes overlap are one region (fragmented glyphs at low resolution can make such). */
function mergeOverlapping (boxes: Component[]): void {
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!
      const b = boxes[j]!
      if (a.left <= b.right && b.left <= a.right && a.top <= b.bottom && b.top <= a.bottom) {
        boxes[i] = merge(a, b)
        boxes.splice(j, 1)
        i = -1
        break
      }
    }
  }
}

/** Formula regions of an ink map, top to bottom then left to right; empty when there is no ink. */
export function segment (ink: Uint8Array, width: number, height: number): Region[] {
  const all = components(ink, width, height)
  if (all.length === 0) return []
  const extent = extentOf
  const size = glyphSize(all, extent)
  // Specks: much smaller than a glyph (noise, but also dots, periods and primes, which join a region).
  const isSpeck = (c: Component) => c.area <= 4 || (extent(c) < SPECK * size && c.area <= SPECK * SPECK * size * size / 2)
  const glyphs = all.filter((c) => !isSpeck(c))
  if (glyphs.length === 0) return []
  const specks = all.filter(isSpeck)

  const lines = joinSmallLines(runs(glyphs, (c) => c.top, (c) => c.bottom, LINE_GAP * size), size)
  const boxes: Component[] = []
  for (const line of lines) {
    for (const part of runs(line, (c) => c.left, (c) => c.right, COLUMN_GAP * size)) {
      boxes.push(part.reduce(merge))
    }
  }
  // A speck joins the nearest region if it lies within a line gap of it; other specks are noise.
  // Distances are to the glyph boxes, so that a trail of specks cannot grow a region.
  const glyphBoxes = boxes.map((b) => ({ ...b }))
  for (const s of specks) {
    let home = -1
    let best = Infinity
    for (const [i, b] of glyphBoxes.entries()) {
      const dx = Math.max(0, b.left - s.right, s.left - b.right)
      const dy = Math.max(0, b.top - s.bottom, s.top - b.bottom)
      const d = Math.max(dx, dy)
      if (d <= LINE_GAP * size && d < best) {
        best = d
        home = i
      }
    }
    if (home >= 0) boxes[home] = merge(boxes[home]!, s)
  }
  mergeOverlapping(boxes)
  // A region with a sliver of the ink of the main one is a blot of noise, not a formula.
  const most = boxes.reduce((m, b) => Math.max(m, b.area), 0)
  return boxes
    .filter((b) => b.area >= MIN_REGION_INK * most)
    .map((b) => ({ box: { left: b.left, top: b.top, width: b.right - b.left + 1, height: b.bottom - b.top + 1 }, glyph: size }))
}

/**
 * How to read a region: its own box, or, when it is so wide that its glyphs
 * would be under PIECE_GLYPH_PX on the canvas, boxes of pieces left to right,
 * each cropped to its ink: as few as keep their glyphs that large, about
 * equally wide, as far as the gaps allow. Their readings, joined, are the
 * region's.
 */
export function readingPieces (ink: Uint8Array, width: number, region: Region, threshold = INK_THRESHOLD): InkBox[] {
  const { box, glyph } = region
  const maxW = INPUT_WIDTH - 2 * MARGIN
  const maxH = INPUT_HEIGHT - 2 * MARGIN
  // Only a region whose scale is set by its width gains from pieces.
  if (maxW / box.width >= maxH / box.height || (glyph * maxW) / box.width >= PIECE_GLYPH_PX) return [box]
  return piecesOf(ink, width, region, (glyph * maxW) / PIECE_GLYPH_PX, threshold)
}

/**
 * How a v2 model (glyph-normalised canvases, model-input.ts glyphCanvas) reads a region: its own
 * box, or, when scaling its glyphs to the model's size would make it wider than the widest canvas,
 * pieces cut as readingPieces cuts them, each no wider than PIECE_GLYPHS glyphs (or that canvas).
 */
export function glyphPieces (ink: Uint8Array, width: number, region: Region, g: GlyphGeometry, threshold = INK_THRESHOLD): InkBox[] {
  const { box, glyph } = region
  const scale = g.glyph / Math.max(glyph, 1)
  if (box.width * scale <= g.maxWidth - 2 * MARGIN) return [box]
  const room = Math.min(g.maxWidth, PIECE_GLYPHS * g.glyph) - 2 * MARGIN
  return piecesOf(ink, width, region, room / scale, threshold)
}

/** A region cut at gaps through its whole height into as few pieces as keep each within `widest` pixels. */
function piecesOf (ink: Uint8Array, width: number, region: Region, widest: number, threshold: number): InkBox[] {
  const { box, glyph } = region
  const empty = new Uint8Array(box.width)
  for (let x = 0; x < box.width; x++) {
    let clear = 1
    for (let y = box.top; y < box.top + box.height && clear; y++) if (ink[y * width + box.left + x]! > threshold) clear = 0
    empty[x] = clear
  }
  // Runs of columns with ink and without, left to right (the box is cropped to ink: it starts and ends with ink).
  const runs: { start: number; end: number; ink: boolean }[] = []
  for (let x = 0; x < box.width;) {
    let end = x
    while (end < box.width && empty[end] === empty[x]) end++
    runs.push({ start: x, end, ink: empty[x] === 0 })
    x = end
  }
  // Cut points: the middles of gaps through the whole height that are wide enough to be a space,
  // and not beside a run of ink as narrow as a dot (the dots of \ldots and \cdots are as far apart
  // as the spaces around an operator).
  const minGap = Math.max(2, PIECE_GAP * glyph)
  const dotLike = (r: { start: number; end: number; ink: boolean } | undefined) => r != null && r.ink && r.end - r.start < SPECK * glyph
  const gaps: number[] = []
  runs.forEach((r, i) => {
    if (!r.ink && r.end - r.start >= minGap && !dotLike(runs[i - 1]) && !dotLike(runs[i + 1])) gaps.push((r.start + r.end) >> 1)
  })
  // As few pieces as keep each within the widest it may be, about equally wide: each cut at the
  // gap nearest its share of the width (so that no piece is a lone glyph left at the end).
  const n = Math.ceil(box.width / widest)
  const cuts = [0]
  for (let k = 1; k < n; k++) {
    const target = (k * box.width) / n
    let best = -1
    for (const g of gaps) if (g > cuts[cuts.length - 1]! && (best < 0 || Math.abs(g - target) < Math.abs(best - target))) best = g
    if (best < 0) break
    cuts.push(best)
  }
  cuts.push(box.width)
  if (cuts.length <= 2) return [box]
  const pieces: InkBox[] = []
  for (let k = 0; k + 1 < cuts.length; k++) {
    const piece = inkWithin(ink, width, box, box.left + cuts[k]!, box.left + cuts[k + 1]!, threshold)
    if (piece != null) pieces.push(piece)
  }
  return pieces.length > 1 ? pieces : [box]
}

/** The box of the ink in columns [x0, x1) of a box; null when there is none. */
function inkWithin (ink: Uint8Array, width: number, box: InkBox, x0: number, x1: number, threshold: number): InkBox | null {
  let left = Infinity
  let right = -1
  let top = Infinity
  let bottom = -1
  for (let y = box.top; y < box.top + box.height; y++) {
    for (let x = x0; x < x1; x++) {
      if (ink[y * width + x]! <= threshold) continue
      if (x < left) left = x
      if (x > right) right = x
      if (y < top) top = y
      if (y > bottom) bottom = y
    }
  }
  return right < 0 ? null : { left, top, width: right - left + 1, height: bottom - top + 1 }
}
