/**
 * A worker thread that prepares one PDF (prepare.ts): page by page, its formulas found, each
 * cropped from the page's rendering, and the page's text template, sent back as they are made.
 * A TIFF of page scans is made a PDF of its pages first (scans.ts).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { hasTiffHeader } from './errors.js'
import { DocumentError, mupdfMemoryBytes, PdfDocument } from './pdf.js'
import { preparePage } from './read.js'
import { scansToPdf } from './scans.js'
import type { PreparedMessage } from './prepare.js'

const port = parentPort
if (port == null) throw new Error('prepare-worker.js runs as a worker thread')
const { bytes, file, pages, maxMemoryMb } = workerData as { bytes: Uint8Array, file: string, pages?: number[], maxMemoryMb: number }
const send = (m: PreparedMessage, transfer: ArrayBuffer[] = []): void => { port.postMessage(m, transfer) }

try {
  // A TIFF's pages are made a PDF first: each page made counts as progress (a long scan is not too slow to open).
  const pdf = hasTiffHeader(bytes) ? await scansToPdf([{ name: file, bytes }], file, undefined, () => { send({ type: 'opening' }) }) : bytes
  const doc = PdfDocument.open(pdf, file)
  try {
    send({ type: 'opened', pages: doc.pages })
    for (const p of pages?.filter(n => n >= 1 && n <= doc.pages) ?? Array.from({ length: doc.pages }, (_, i) => i + 1)) {
      const page = await preparePage(doc, p)
      // MuPDF's memory grows as pages need it and is freed only with this thread: past the bound, the document is refused.
      const held = mupdfMemoryBytes() / 2 ** 20
      if (held > maxMemoryMb) throw new DocumentError(file, 'page-too-large', `page ${p} took MuPDF's memory to ${Math.round(held)} MiB; a document may take at most ${maxMemoryMb} MiB`)
      send({ type: 'page', ...page }, page.formulas.map(f => f.png.buffer as ArrayBuffer))
    }
  } finally {
    doc.close()
  }
  send({ type: 'done' })
} catch (err) {
  send(err instanceof DocumentError
    ? { type: 'error', reason: err.reason, detail: err.detail }
    : { type: 'error', reason: 'damaged', detail: `cannot be read (${(err as Error).message})` })
}
