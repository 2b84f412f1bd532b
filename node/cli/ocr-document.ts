/** `texmesh ocr paper.pdf`: a born-digital PDF's formulas, found in its text layer and read here (documents/). */
import type { OcrResult } from '../../pipeline/ocr.js'
import { DocumentError, hasPdfHeader } from '../../documents/errors.js'
import type { PdfDocument } from '../../documents/pdf.js'
import type { DocumentFormula, DocumentPage } from '../../documents/read.js'
import { printable } from './terminal.js'
import { toLatex, toMarkdown } from '../../documents/export.js'

export interface DocumentLine { file: string, pages: DocumentPage[], formulas: DocumentFormula[], ms: number, export?: string }

/** What `--export` makes of a document: Markdown with the formulas in place, or a LaTeX file of them. */
export type ExportFormat = 'markdown' | 'latex'

/** Whether bytes are a PDF. */
export const isPdf = hasPdfHeader

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
  const head = `${printable(line.file)}\t${line.pages.length} page${line.pages.length === 1 ? '' : 's'}, ${line.formulas.length} formula${line.formulas.length === 1 ? '' : 's'}\t(${line.ms} ms${scans > 0 ? `; ${scans} page${scans === 1 ? ' has' : 's have'} no text layer (a scan): formulas on scanned pages are not found yet` : ''})`
  return [head, ...line.formulas.map(f => `  p${f.page} ${f.display ? 'display' : 'inline '}\t${printable(f.latex)}\t(confidence ${f.confidence.toFixed(2)})`)].join('\n')
}
