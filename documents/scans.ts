/**
 * Page scans taken as one document: a multi-page TIFF, or several page images (a folder of scans,
 * in name order), made into one PDF of image pages, each page the size its scan's resolution says
 * (300 dpi when the file does not say). From there a scan is read as any PDF page without a text
 * layer is (read.ts, scanned.ts), shared across the network the same way, and kept as one file.
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp'
import type * as MuPDF from 'mupdf'
import { DocumentError } from './errors.js'
import { DEFAULT_PDF_LIMITS, type PdfLimits } from './pdf.js'

/** A scan's resolution when its file does not give one (or gives one no scanner makes). */
export const DEFAULT_SCAN_DPI = 300

export interface ScanFile { name: string, bytes: Uint8Array }

/**
 * One PDF of the pages of `files` (each image one page; each page of a multi-page TIFF one page);
 * `onPage` hears of each page made. Throws DocumentError for a file that is not an image, or pages past the limits.
 */
export async function scansToPdf (files: readonly ScanFile[], name: string, limits: PdfLimits = DEFAULT_PDF_LIMITS, onPage?: (pages: number) => void): Promise<Uint8Array> {
  const mupdf: typeof MuPDF = await import('mupdf')
  const pdf = new mupdf.PDFDocument()
  let pages = 0
  try {
    for (const f of files) {
      let meta: Metadata
      try {
        meta = await sharp(f.bytes, { limitInputPixels: limits.maxPixels }).metadata()
      } catch (err) {
        if (/pixel limit/i.test((err as Error).message)) throw new DocumentError(f.name, 'page-too-large', `is over ${limits.maxPixels / 1e6} megapixels`)
        throw new DocumentError(f.name, 'damaged', `not an image that can be read as a page scan (${(err as Error).message})`)
      }
      const count = meta.format === 'tiff' ? (meta.pages ?? 1) : 1
      if (pages + count > limits.maxPages) throw new DocumentError(name, 'too-many-pages', `has over ${limits.maxPages} pages; at most ${limits.maxPages} are read`)
      for (let p = 0; p < count; p++) {
        let png: Buffer
        let info: OutputInfo
        try {
          ({ data: png, info } = await sharp(f.bytes, { page: p, limitInputPixels: limits.maxPixels }).greyscale().png().toBuffer({ resolveWithObject: true }))
        } catch (err) {
          if (/pixel limit/i.test((err as Error).message)) throw new DocumentError(f.name, 'page-too-large', `page ${p + 1} is over ${limits.maxPixels / 1e6} megapixels`)
          throw new DocumentError(f.name, 'damaged', `page ${p + 1} cannot be read (${(err as Error).message})`)
        }
        const dpi = meta.density != null && meta.density >= 72 && meta.density <= 1200 ? meta.density : DEFAULT_SCAN_DPI
        const width = info.width * 72 / dpi
        const height = info.height * 72 / dpi
        if (width > limits.maxSidePt || height > limits.maxSidePt) throw new DocumentError(f.name, 'page-too-large', `page ${p + 1} is ${Math.round(width)} x ${Math.round(height)} points at ${dpi} dpi; a side may be at most ${limits.maxSidePt}`)
        const image = pdf.addImage(new mupdf.Image(png))
        const page = pdf.addPage([0, 0, width, height], 0, { XObject: { I0: image } }, `q ${width.toFixed(3)} 0 0 ${height.toFixed(3)} 0 0 cm /I0 Do Q`)
        pdf.insertPage(-1, page)
        pages++
        onPage?.(pages)
      }
    }
    if (pages === 0) throw new DocumentError(name, 'damaged', 'has no pages')
    return new Uint8Array(pdf.saveToBuffer('compress').asUint8Array())
  } finally {
    pdf.destroy()
  }
}
