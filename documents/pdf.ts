/**
 * PDF pages with the `mupdf` package (MuPDF compiled to WebAssembly: no native build), within
 * bounds a node can afford: a page count, a page size and a pixel budget per rendered page. What
 * a page gives: its size in points, its text layer (every character with its font and box) and
 * its vector rules (fraction bars, radicals), and a grey rendering at a chosen density.
 *
 * Bad input is a DocumentError naming the file and the reason: not a PDF or damaged, encrypted,
 * too many pages, a page too large.
 */
import type * as MuPDF from 'mupdf'

// MuPDF writes warnings about damaged files ("repairing PDF document") to stderr; they are kept
// here instead (the latest few), and a damaged file is reported by the error it leads to.
const warnings: string[] = []
;(globalThis as { $libmupdf_wasm_Module?: unknown }).$libmupdf_wasm_Module = {
  print: (line: string) => { warnings.push(line); warnings.splice(0, warnings.length - 20) },
  printErr: (line: string) => { warnings.push(line); warnings.splice(0, warnings.length - 20) }
}
const mupdf: typeof MuPDF = await import('mupdf')

/** Bytes of memory MuPDF's WebAssembly instance holds now (it grows as pages need it, up to 2 GiB, and never shrinks). */
export function mupdfMemoryBytes (): number {
  return (globalThis as { $libmupdf_wasm_Module?: { HEAPU8?: Uint8Array } }).$libmupdf_wasm_Module?.HEAPU8?.length ?? 0
}

/** MuPDF's latest warnings (a damaged file's repairs), for logs. */
export function mupdfWarnings (): string[] { return [...warnings] }

import { DocumentError, hasPdfHeader, notPdf } from './errors.js'
export { DocumentError, type DocumentErrorReason } from './errors.js'

export interface PdfLimits {
  /** the most pages a document may have */
  maxPages: number
  /** the largest page side, in points (1/72 inch) */
  maxSidePt: number
  /** the most pixels one rendered page may have */
  maxPixels: number
}

/** 2,000 pages; 200 inches a side (A0 is 47); 60 megapixels a rendering (an A4 page at 600 dpi is 35). */
export const DEFAULT_PDF_LIMITS: PdfLimits = { maxPages: 2000, maxSidePt: 200 * 72, maxPixels: 60_000_000 }

/** A box in page points, top-left origin. */
export interface PtBox { x: number, y: number, width: number, height: number }

/**
 * A character of the text layer: what it is, its font (the subset prefix dropped), its size, its
 * box (the font's whole line box: often taller than the glyph), its baseline, and its colour
 * (components 0-1).
 */
export interface PageChar {
  c: string
  font: string
  size: number
  box: PtBox
  baseline: number
  color: number[]
  /** the text block and line MuPDF put it in (numbered through the page, in MuPDF's reading order) */
  block: number
  line: number
}

/** A grey rendering: one byte a pixel (0 black, 255 white), row after row, at `dpi`. */
export interface GrayPage { data: Uint8Array, width: number, height: number, dpi: number }

/** The font name without the subset tag ("ABCDEF+CMMI10" -> "CMMI10"). */
export function baseFontName (name: string): string {
  return name.replace(/^[A-Z]{6}\+/, '')
}

export class PdfDocument {
  private constructor (private readonly doc: MuPDF.Document, readonly file: string, readonly pages: number, private readonly limits: PdfLimits) {}

  /** Open a PDF from its bytes. Throws DocumentError for input that is not a PDF this node will read. */
  static open (bytes: Uint8Array, file = '<document>', limits: PdfLimits = DEFAULT_PDF_LIMITS): PdfDocument {
    if (!hasPdfHeader(bytes)) throw notPdf(file)
    let doc: MuPDF.Document
    try {
      doc = mupdf.Document.openDocument(bytes, 'application/pdf')
    } catch (err) {
      throw new DocumentError(file, 'damaged', `cannot be opened as a PDF (${(err as Error).message})`)
    }
    try {
      if (doc.needsPassword()) throw new DocumentError(file, 'encrypted', 'is encrypted (password-protected PDFs are not read)')
      let pages: number
      try {
        pages = doc.countPages()
      } catch (err) {
        throw new DocumentError(file, 'damaged', `its pages cannot be counted (${(err as Error).message})`)
      }
      if (pages > limits.maxPages) throw new DocumentError(file, 'too-many-pages', `has ${pages} pages; at most ${limits.maxPages} are read`)
      if (pages === 0) throw new DocumentError(file, 'damaged', 'has no pages')
      return new PdfDocument(doc, file, pages, limits)
    } catch (err) {
      doc.destroy()
      throw err
    }
  }

  private page (index: number): MuPDF.Page {
    if (!Number.isInteger(index) || index < 0 || index >= this.pages) throw new RangeError(`page ${index + 1} of ${this.pages}`)
    let page: MuPDF.Page
    let bounds: number[]
    try {
      page = this.doc.loadPage(index)
      bounds = page.getBounds()
    } catch (err) {
      throw new DocumentError(this.file, 'damaged', `page ${index + 1} cannot be read (${(err as Error).message})`)
    }
    const [x0, y0, x1, y1] = bounds as [number, number, number, number]
    if (!(x1 - x0 > 0 && y1 - y0 > 0) || x1 - x0 > this.limits.maxSidePt || y1 - y0 > this.limits.maxSidePt) {
      page.destroy()
      throw new DocumentError(this.file, 'page-too-large', `page ${index + 1} is ${Math.round(x1 - x0)} x ${Math.round(y1 - y0)} points; a side may be at most ${this.limits.maxSidePt}`)
    }
    return page
  }

  /** A page's size in points. */
  size (index: number): { width: number, height: number } {
    const page = this.page(index)
    try {
      const [x0, y0, x1, y1] = page.getBounds() as [number, number, number, number]
      return { width: x1 - x0, height: y1 - y0 }
    } finally { page.destroy() }
  }

  /** A page's text layer, character by character in content order, and its vector rules (boxes of filled or stroked paths). */
  text (index: number): { chars: PageChar[], rules: PtBox[] } {
    const page = this.page(index)
    const chars: PageChar[] = []
    const rules: PtBox[] = []
    let block = -1
    let line = -1
    try {
      const st = page.toStructuredText('preserve-whitespace,vectors')
      try {
        st.walk({
          beginTextBlock () { block++ },
          beginLine () { line++ },
          onChar (c, origin, font, size, quad, color) {
            const xs = [quad[0], quad[2], quad[4], quad[6]]
            const ys = [quad[1], quad[3], quad[5], quad[7]]
            const x = Math.min(...xs)
            const y = Math.min(...ys)
            chars.push({ c, font: baseFontName(font.getName()), size, box: { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y }, baseline: origin[1], color: [...color], block, line })
          },
          onVector (bbox) {
            const [x0, y0, x1, y1] = bbox as [number, number, number, number]
            rules.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 })
          }
        })
      } finally { st.destroy() }
    } catch (err) {
      if (err instanceof DocumentError) throw err
      throw new DocumentError(this.file, 'damaged', `page ${index + 1}'s text cannot be read (${(err as Error).message})`)
    } finally { page.destroy() }
    return { chars, rules }
  }

  /** A page rendered in grey at `dpi` (lowered to keep within the pixel budget; the result says which). */
  render (index: number, dpi: number): GrayPage {
    const page = this.page(index)
    try {
      const [x0, y0, x1, y1] = page.getBounds() as [number, number, number, number]
      const area = ((x1 - x0) / 72) * ((y1 - y0) / 72)
      const fit = Math.min(dpi, Math.floor(Math.sqrt(this.limits.maxPixels / area)))
      let pix: MuPDF.Pixmap
      try {
        pix = page.toPixmap(mupdf.Matrix.scale(fit / 72, fit / 72), mupdf.ColorSpace.DeviceGray, false, true)
      } catch (err) {
        throw new DocumentError(this.file, 'damaged', `page ${index + 1} cannot be rendered (${(err as Error).message})`)
      }
      try {
        const width = pix.getWidth()
        const height = pix.getHeight()
        const stride = pix.getStride()
        const src = pix.getPixels()
        const data = new Uint8Array(width * height)
        for (let y = 0; y < height; y++) data.set(src.subarray(y * stride, y * stride + width), y * width)
        return { data, width, height, dpi: fit }
      } finally { pix.destroy() }
    } finally { page.destroy() }
  }

  close (): void { this.doc.destroy() }
}
