/**
 * `texmesh ocr paper.pdf` (and a multi-page TIFF, or `--scans` page images): a document's formulas,
 * found in its text layer or, on scanned pages, in its pixels, and read here (documents/).
 */
import { readFile } from 'node:fs/promises'
import sharp from 'sharp'
import type { OcrResult } from '../../pipeline/ocr.js'
import { DocumentError, hasPdfHeader, hasTiffHeader } from '../../documents/errors.js'
import type { ScanFile } from '../../documents/scans.js'
import type { PdfDocument } from '../../documents/pdf.js'
import type { DocumentFormula, DocumentPage } from '../../documents/read.js'
import { printable } from './terminal.js'
import { toLatex, toMarkdown } from '../../documents/export.js'

export interface DocumentLine { file: string, pages: DocumentPage[], formulas: DocumentFormula[], ms: number, export?: string }

/** What `--export` makes of a document: Markdown with the formulas in place, or a LaTeX file of them. */
export type ExportFormat = 'markdown' | 'latex'

/** Whether bytes are a PDF. */
export const isPdf = hasPdfHeader

/** Whether bytes are a TIFF of several pages (page scans, read as one document). */
export async function isMultiPageTiff (bytes: Uint8Array): Promise<boolean> {
  if (!hasTiffHeader(bytes)) return false
  try {
    return ((await sharp(bytes).metadata()).pages ?? 1) > 1
  } catch {
    return false // read as an image, which says what is wrong with it
  }
}

/** `--scans`: the files expandInputs gave, read as the pages of one document (named after the inputs), or why they cannot be. */
export async function readScans (inputs: readonly string[], files: ReadonlyArray<{ file: string, error?: string }>):
Promise<{ name: string, pages: ScanFile[] } | { file: string, error: string, reason: string }> {
  const name = inputs.length === 1 ? inputs[0]! : `${inputs[0]!} and ${inputs.length - 1} more`
  const pages: ScanFile[] = []
  for (const f of files) {
    if (f.error != null) return { file: f.file, error: f.error, reason: 'unreadable' }
    let bytes: Uint8Array
    try {
      bytes = await readFile(f.file)
    } catch (err) {
      return { file: f.file, error: `cannot read (${(err as Error).message})`, reason: 'unreadable' }
    }
    if (hasPdfHeader(bytes)) return { file: f.file, error: '--scans takes page images (PNG, JPEG, TIFF, ...), not PDFs', reason: 'not-an-image' }
    pages.push({ name: f.file, bytes })
  }
  return { name, pages }
}

/** `--scans`: the files expandInputs gave made one PDF of their pages, or why they cannot be. */
export async function scansFromInputs (inputs: readonly string[], files: ReadonlyArray<{ file: string, error?: string }>):
Promise<{ name: string, pdf: Uint8Array } | { file: string, error: string, reason: string }> {
  const scans = await readScans(inputs, files)
  return 'error' in scans ? scans : await scansPdf(scans.pages, scans.name)
}

/** Page scans (images, or the pages of TIFFs) made one PDF named `name`, or why they cannot be. */
export async function scansPdf (pages: readonly ScanFile[], name: string): Promise<{ name: string, pdf: Uint8Array } | { file: string, error: string, reason: string }> {
  // MuPDF (10 MB of WebAssembly) loads only when scans are made a document.
  const { scansToPdf } = await import('../../documents/scans.js')
  try {
    return { name, pdf: await scansToPdf(pages, name) }
  } catch (err) {
    if (err instanceof DocumentError) return { file: err.file, error: err.detail, reason: err.reason }
    throw err
  }
}

/** Read a PDF's formulas with `recognize`; a PDF that cannot be read is an error line, as an unreadable image is. */
export async function documentLine (bytes: Uint8Array, file: string, recognize: (png: Uint8Array, name: string) => Promise<OcrResult>,
  format?: ExportFormat): Promise<DocumentLine | { file: string, error: string, reason: string }> {
  const t0 = performance.now()
  // MuPDF (10 MB of WebAssembly) loads only when a PDF is read, not with every command.
  const { PdfDocument } = await import('../../documents/pdf.js')
  const { readDocument } = await import('../../documents/read.js')
  let doc: PdfDocument
  try {
    doc = PdfDocument.open(bytes, file)
  } catch (err) {
    if (err instanceof DocumentError) return { file, error: err.detail, reason: err.reason }
    throw err
  }
  try {
    const { pages, formulas, templates } = await readDocument(doc, { recognize })
    const line: DocumentLine = { file, pages, formulas, ms: Math.round(performance.now() - t0) }
    if (format === 'latex') line.export = toLatex(file, formulas)
    if (format === 'markdown') line.export = toMarkdown(pages.map((p, i) => ({ template: templates[i]!, formulas: formulas.filter(f => f.page === p.page) })))
    return line
  } catch (err) {
    if (err instanceof DocumentError) return { file, error: err.detail, reason: err.reason }
    throw err
  } finally {
    doc.close()
  }
}

/** A document's formulas for a terminal: one line each, page and kind first. */
export function humanDocument (line: DocumentLine): string {
  if (line.export != null) return line.export.replace(/\n$/, '')
  const scans = line.pages.filter(p => p.scanned).length
  const head = `${printable(line.file)}\t${line.pages.length} page${line.pages.length === 1 ? '' : 's'}, ${line.formulas.length} formula${line.formulas.length === 1 ? '' : 's'}\t(${line.ms} ms${scans > 0 ? `; ${scans} page${scans === 1 ? ' is a scan' : 's are scans'} (no text layer): formulas found in the pixels` : ''})`
  return [head, ...line.formulas.map(f => `  p${f.page} ${f.display ? 'display' : 'inline '}\t${printable(f.latex)}\t(confidence ${f.confidence.toFixed(2)})`)].join('\n')
}
