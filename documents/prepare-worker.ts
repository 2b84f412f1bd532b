/**
 * A worker thread that prepares one PDF (prepare.ts): page by page, its formulas found, each
 * cropped from the page's rendering, and the page's text template, sent back as they are made.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { findFormulas } from './born-digital.js'
import { pageTemplate } from './export.js'
import { DocumentError, PdfDocument } from './pdf.js'
import { cropFormula, RENDER_DPI, roundBox } from './read.js'
import type { PreparedMessage } from './prepare.js'

const port = parentPort
if (port == null) throw new Error('prepare-worker.js runs as a worker thread')
const { bytes, file } = workerData as { bytes: Uint8Array, file: string }
const send = (m: PreparedMessage, transfer: ArrayBuffer[] = []): void => { port.postMessage(m, transfer) }

try {
  const doc = PdfDocument.open(bytes, file)
  try {
    send({ type: 'opened', pages: doc.pages })
    for (let p = 0; p < doc.pages; p++) {
      const { chars, rules } = doc.text(p)
      const { body, formulas } = findFormulas(chars, rules)
      const rendering = formulas.length > 0 ? doc.render(p, RENDER_DPI) : undefined
      const crops: Uint8Array[] = []
      for (const f of formulas) crops.push(new Uint8Array(await cropFormula(rendering!, f.box, f.foreign, body)))
      send({
        type: 'page',
        page: p + 1,
        scanned: chars.length === 0,
        template: pageTemplate(chars, formulas),
        formulas: formulas.map((f, i) => ({ box: roundBox(f.box), display: f.display, png: crops[i]! }))
      }, crops.map(c => c.buffer as ArrayBuffer))
    }
  } finally {
    doc.close()
  }
  send({ type: 'done' })
} catch (err) {
  send(err instanceof DocumentError
    ? { type: 'error', reason: err.reason, message: err.message }
    : { type: 'error', reason: 'damaged', message: `${file}: cannot be read (${(err as Error).message})` })
}
