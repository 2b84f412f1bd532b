/**
 * A PDF prepared for the network off the node's main thread: a worker thread (prepare-worker.ts)
 * opens it, finds each page's formulas and crops them, page by page. A page that takes longer than
 * PAGE_TIMEOUT_MS, or leaves MuPDF holding more than MAX_MUPDF_MB (a PDF built to exhaust its
 * reader), ends the worker: the document is refused with the reason, and the node goes on serving
 * meanwhile. The worker's JavaScript heap is bounded at 512 MiB; MuPDF's WebAssembly memory at
 * 2 GiB by WebAssembly itself, and it is freed with the worker.
 */
import { Worker } from 'node:worker_threads'
import { DocumentError, type DocumentErrorReason } from './errors.js'
import type { PreparedPage } from './read.js'
export type { PreparedPage }

/** The longest a page may take to open, find and crop (a real page takes well under a second). */
export const PAGE_TIMEOUT_MS = 30_000
/** The most memory MuPDF may hold while a document is prepared (a real page needs tens of MiB). */
export const MAX_MUPDF_MB = 1024

export type PreparedMessage =
  | { type: 'opening' }
  | { type: 'opened', pages: number }
  | ({ type: 'page' } & PreparedPage)
  | { type: 'done' }
  | { type: 'error', reason: DocumentErrorReason, detail: string }

const WORKER_URL = new URL('./prepare-worker.js', import.meta.url)

/**
 * Prepare a PDF (or only `pages` of it, 1-based; those past its end are left out); `onPage` takes
 * each page as it comes (in order, one at a time). Throws
 * DocumentError for a PDF that cannot be read, or is too slow to. An aborted `signal` ends the
 * worker; pages not taken yet are dropped and the promise resolves.
 */
export async function preparePdf (bytes: Uint8Array, file: string, onPage: (page: PreparedPage, pages: number) => Promise<void>,
  options: { timeoutMs?: number, signal?: AbortSignal, pages?: readonly number[], maxMemoryMb?: number } = {}): Promise<number> {
  const timeoutMs = options.timeoutMs ?? PAGE_TIMEOUT_MS
  // The worker's JavaScript heap is bounded (MuPDF's WebAssembly memory is its own, up to 2 GiB).
  const worker = new Worker(WORKER_URL, { workerData: { bytes, file, pages: options.pages, maxMemoryMb: options.maxMemoryMb ?? MAX_MUPDF_MB }, resourceLimits: { maxOldGenerationSizeMb: 512 } })
  let pages = 0
  let settled = false
  let failed = false
  try {
    await new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      let chain = Promise.resolve()
      const end = (err?: Error): void => {
        if (settled) return
        settled = true
        failed = err != null
        clearTimeout(timer)
        worker.removeAllListeners('message')
        if (err != null) reject(err)
        else chain.then(resolve, reject)
      }
      // Each step (a page of a TIFF made, a page prepared) has its own PAGE_TIMEOUT_MS.
      const arm = (what: string): void => {
        clearTimeout(timer)
        timer = setTimeout(() => { end(new DocumentError(file, 'too-slow', `${what} took over ${timeoutMs / 1000} s (a page that costly is not read)`)) }, timeoutMs)
        timer.unref()
      }
      options.signal?.addEventListener('abort', () => { end() }, { once: true })
      if (options.signal?.aborted === true) { end(); return }
      arm('opening it')
      worker.on('message', (m: PreparedMessage) => {
        if (settled) return
        if (m.type === 'opening') {
          arm('opening it')
        } else if (m.type === 'opened') {
          pages = m.pages
          arm('the first page')
        } else if (m.type === 'page') {
          arm(`the page after page ${m.page}`)
          // Pages queued when the document was refused or the preparation stopped are dropped.
          chain = chain.then(async () => { if (!failed && options.signal?.aborted !== true) await onPage(m, pages) })
          chain.catch((err: unknown) => { end(err instanceof Error ? err : new Error(String(err))) })
        } else if (m.type === 'done') {
          end()
        } else {
          end(new DocumentError(file, m.reason, m.detail))
        }
      })
      worker.once('error', err => { end(new DocumentError(file, 'damaged', `cannot be read (${err.message})`)) })
      worker.once('exit', code => { end(new DocumentError(file, 'damaged', `its reader stopped (exit code ${code}) before the last page`)) })
    })
  } finally {
    await worker.terminate()
  }
  return pages
}
