/**
 * A PDF prepared for the network off the node's main thread: a worker thread (prepare-worker.ts)
 * opens it, finds each page's formulas and crops them, page by page. A page that takes longer than
 * PAGE_TIMEOUT_MS (a PDF built to exhaust its reader) ends the worker: the document is refused
 * with the reason, and the node goes on serving meanwhile.
 */
import { Worker } from 'node:worker_threads'
import { DocumentError, type DocumentErrorReason, type PtBox } from './pdf.js'

/** The longest a page may take to open, find and crop (a real page takes well under a second). */
export const PAGE_TIMEOUT_MS = 30_000

export interface PreparedPage {
  page: number
  scanned: boolean
  /** the page's text with slots for its formulas (export.ts) */
  template: string
  formulas: Array<{ box: PtBox, display: boolean, png: Uint8Array }>
}

export type PreparedMessage =
  | { type: 'opened', pages: number }
  | ({ type: 'page' } & PreparedPage)
  | { type: 'done' }
  | { type: 'error', reason: DocumentErrorReason, message: string }

const WORKER_URL = new URL('./prepare-worker.js', import.meta.url)

/** Prepare a PDF; `onPage` takes each page as it comes (in order). Throws DocumentError for a PDF that cannot be read, or is too slow to. */
export async function preparePdf (bytes: Uint8Array, file: string, onPage: (page: PreparedPage, pages: number) => Promise<void>, timeoutMs = PAGE_TIMEOUT_MS): Promise<number> {
  const worker = new Worker(WORKER_URL, { workerData: { bytes, file } })
  let pages = 0
  let chain = Promise.resolve()
  try {
    await new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const arm = (what: string): void => {
        clearTimeout(timer)
        timer = setTimeout(() => { reject(new DocumentError(file, 'too-slow', `${what} took over ${timeoutMs / 1000} s (a page that costly is not read)`)) }, timeoutMs)
      }
      arm('opening it')
      worker.on('message', (m: PreparedMessage) => {
        if (m.type === 'opened') { pages = m.pages; arm('page 1') } else if (m.type === 'page') {
          arm(`page ${m.page + 1}`)
          chain = chain.then(async () => { await onPage(m, pages) })
          chain.catch(reject)
        } else if (m.type === 'done') { clearTimeout(timer); chain.then(resolve, reject) } else {
          clearTimeout(timer)
          reject(new DocumentError(file, m.reason, m.message.startsWith(`${file}: `) ? m.message.slice(file.length + 2) : m.message))
        }
      })
      worker.once('error', err => { clearTimeout(timer); reject(new DocumentError(file, 'damaged', `cannot be read (${err.message})`)) })
      worker.once('exit', code => { clearTimeout(timer); if (code !== 0) reject(new DocumentError(file, 'damaged', `its reader stopped (exit code ${code})`)) })
    })
  } finally {
    await worker.terminate()
  }
  return pages
}
