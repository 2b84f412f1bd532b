/**
 * A born-digital PDF's formulas, read: each page's formulas found in its text layer
 * (born-digital.ts), its rendering cropped to each (other characters near the box blanked out;
 * preparePage, which the network's worker thread uses too, prepare-worker.ts), and each crop read
 * by the OCR pipeline. Formulas come back in reading order: page by page, top
 * to bottom, left to right.
 */
import sharp from 'sharp'
import type { Alternative, OcrResult } from '../pipeline/ocr.js'
import { ImageError } from '../pipeline/preprocess.js'
import { findFormulas, PAD } from './born-digital.js'
import { pageTemplate } from './export.js'
import type { GrayPage, PdfDocument, PtBox } from './pdf.js'
import { findScannedFormulas } from './scanned.js'
import { sharedWordClassifier } from './word-classifier.js'

/** Pages are rendered at this density: the model reads formulas typeset at 110-220 dpi best (held-out C's densities). */
export const RENDER_DPI = 200

export interface DocumentFormula {
  /** 1-based page number */
  page: number
  /** the formula's box on its page, in points (1/72 inch) from the top left */
  box: PtBox
  display: boolean
  latex: string
  confidence: number
  alternatives: Alternative[]
}

export interface DocumentPage { page: number, formulas: number, scanned: boolean }

/** One page made ready to read: its formulas (box, display, crop as PNG), its text with their slots (export.ts), and whether it has no text layer at all (a scan, whose formulas are found in its pixels). */
export interface PreparedPage {
  page: number
  scanned: boolean
  template: string
  formulas: Array<{ box: PtBox, display: boolean, png: Uint8Array }>
}

/**
 * Find page `number`'s (1-based) formulas in its text layer, or in its pixels when it has none (a
 * scan: scanned.ts), and crop each from its rendering.
 */
export async function preparePage (doc: PdfDocument, number: number): Promise<PreparedPage> {
  const { chars, rules } = doc.text(number - 1)
  if (chars.length === 0) return await prepareScan(doc.render(number - 1, RENDER_DPI), number)
  const { body, formulas } = findFormulas(chars, rules)
  const rendering = formulas.length > 0 ? doc.render(number - 1, RENDER_DPI) : undefined
  const crops: Uint8Array[] = []
  for (const f of formulas) crops.push(new Uint8Array(await cropFormula(rendering!, f.box, f.foreign, body)))
  return {
    page: number,
    scanned: chars.length === 0,
    template: pageTemplate(chars, formulas),
    formulas: formulas.map((f, i) => ({ box: roundBox(f.box), display: f.display, png: crops[i]! }))
  }
}

/** A page of pixels alone (a scan): its formulas found by layout and the word classifier, and cropped. */
export async function prepareScan (page: GrayPage, number: number): Promise<PreparedPage> {
  const { body, formulas, template } = await findScannedFormulas(page, await sharedWordClassifier())
  const crops: Uint8Array[] = []
  for (const f of formulas) crops.push(new Uint8Array(await cropFormula(page, f.box, f.foreign, body)))
  return { page: number, scanned: true, template, formulas: formulas.map((f, i) => ({ box: roundBox(f.box), display: f.display, png: crops[i]! })) }
}

/** The crop of a formula from a page's rendering, with foreign characters blanked, as PNG. */
export async function cropFormula (page: GrayPage, box: PtBox, foreign: readonly PtBox[], body: number): Promise<Buffer> {
  const k = page.dpi / 72
  const pad = PAD * body
  // The padded box, cut to the page (a box reaching past an edge keeps its place in the crop).
  const left = Math.min(page.width - 1, Math.max(0, Math.floor((box.x - pad) * k)))
  const top = Math.min(page.height - 1, Math.max(0, Math.floor((box.y - pad) * k)))
  const width = Math.max(1, Math.min(page.width, Math.ceil((box.x + box.width + pad) * k)) - left)
  const height = Math.max(1, Math.min(page.height, Math.ceil((box.y + box.height + pad) * k)) - top)
  const out = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) out.set(page.data.subarray((top + y) * page.width + left, (top + y) * page.width + left + width), y * width)
  for (const f of foreign) {
    const x0 = Math.max(0, Math.floor(f.x * k) - left)
    const x1 = Math.min(width, Math.ceil((f.x + f.width) * k) - left)
    const y0 = Math.max(0, Math.floor(f.y * k) - top)
    const y1 = Math.min(height, Math.ceil((f.y + f.height) * k) - top)
    for (let y = y0; y < y1; y++) out.fill(255, y * width + x0, y * width + Math.max(x0, x1))
  }
  return await sharp(Buffer.from(out.buffer), { raw: { width, height, channels: 1 } }).png().toBuffer()
}

export interface ReadOptions {
  /** read one crop (the OCR pipeline, or a node's pool) */
  recognize: (png: Uint8Array, file: string) => Promise<OcrResult>
  /** called after each page */
  onPage?: (done: number, total: number) => void
  /** only these pages (1-based); every page when not given */
  pages?: readonly number[]
}

/** Every formula of a document, in reading order, what each page gave, and each page's text with its formulas' slots (export.ts). */
export async function readDocument (doc: PdfDocument, opts: ReadOptions): Promise<{ pages: DocumentPage[], formulas: DocumentFormula[], templates: string[] }> {
  const wanted = opts.pages ?? Array.from({ length: doc.pages }, (_, i) => i + 1)
  const pages: DocumentPage[] = []
  const formulas: DocumentFormula[] = []
  const templates: string[] = []
  for (const [done, number] of wanted.entries()) {
    const page = await preparePage(doc, number)
    for (const [i, f] of page.formulas.entries()) {
      let r: Pick<OcrResult, 'latex' | 'confidence' | 'alternatives'>
      try {
        r = await opts.recognize(f.png, `${doc.file}#page=${number}&formula=${i + 1}`)
      } catch (err) {
        // A crop with no ink (a formula drawn as an image, say) is one formula not read, not the document.
        if (!(err instanceof ImageError)) throw err
        r = { latex: '', confidence: 0, alternatives: [] }
      }
      formulas.push({ page: number, box: f.box, display: f.display, latex: r.latex, confidence: r.confidence, alternatives: r.alternatives })
    }
    pages.push({ page: number, formulas: page.formulas.length, scanned: page.scanned })
    templates.push(page.template)
    opts.onPage?.(done + 1, wanted.length)
  }
  return { pages, formulas, templates }
}

/** A box to a tenth of a point. */
export function roundBox (b: PtBox): PtBox {
  const r = (x: number): number => Math.round(x * 10) / 10
  return { x: r(b.x), y: r(b.y), width: r(b.width), height: r(b.height) }
}
