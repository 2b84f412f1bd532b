import { randomBytes } from 'node:crypto'
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { DocumentError, hasPdfHeader, hasTiffHeader, notPdf } from '../../documents/errors.js'
import { preparePdf } from '../../documents/prepare.js'
import { toLatex, toMarkdown } from '../../documents/export.js'
import { ImageError } from '../../pipeline/preprocess.js'
import { writeFileAtomic } from '../datadir/files.js'
import type { Log } from '../log.js'
import type { TaskView } from './task-view.js'

/**
 * Documents submitted to this node (`texmesh submit paper.pdf`, POST /v1/documents; a TIFF of
 * page scans too): each page's formulas are found in its text layer (documents/born-digital.ts),
 * or in its pixels when it has none (documents/scanned.ts), on a worker thread, cropped
 * from its rendering, and each crop is submitted as a task of its own, which any node of the
 * network may take, and whose answer, reviews and reuse are those of any image.
 *
 * A document is a record in the data dir (`documents/ID.json`, and its pages' text for export in
 * `ID.text.json`), written when it is accepted and again after each page: `preparing` (queued or
 * under way: one document is prepared at a time), `prepared`, `refused` (a PDF that cannot be read,
 * with the reason; the tasks of pages before stay), or `interrupted` (the node stopped while it
 * was prepared: the pages done stay). Its view gathers its formulas' task states and answers.
 */

const Box = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() })
const DocumentRecord = z.object({
  id: z.string().regex(/^d[0-9a-f]{16}$/),
  file: z.string(),
  time: z.number(),
  status: z.enum(['preparing', 'prepared', 'refused', 'interrupted']),
  /** pages in the PDF, once opened */
  pageCount: z.number().int().optional(),
  refused: z.object({ reason: z.string(), message: z.string() }).optional(),
  pages: z.array(z.object({ page: z.number().int(), formulas: z.number().int(), scanned: z.boolean() })),
  formulas: z.array(z.object({ page: z.number().int(), box: Box, display: z.boolean(), task: z.string().optional(), error: z.string().optional() }))
})
type DocumentRecord = z.infer<typeof DocumentRecord>

export type DocumentFormulaView = DocumentRecord['formulas'][number] & {
  state: TaskView['state'] | 'refused'
  latex?: string
  confidence?: number
  alternatives?: Array<{ latex: string, score: number }>
}

export interface DocumentView {
  id: string
  file: string
  submittedAt: string
  /** preparing (pages still being found), running (formulas being read), done, refused, interrupted */
  state: 'preparing' | 'running' | 'done' | 'refused' | 'interrupted'
  /** why a document was refused (a PDF that cannot be read) */
  refused?: { reason: string, message: string }
  /** pages in the PDF (once opened) */
  pageCount: number | null
  pages: DocumentRecord['pages']
  /** pages whose formulas have all ended */
  pagesDone: number
  formulas: DocumentFormulaView[]
}

export interface DocumentTasks {
  submit(image: Uint8Array, meta: { file: string, critical: boolean }): Promise<TaskView>
  get(id: string): Promise<TaskView | undefined>
}

const ENDED = new Set(['done', 'failed', 'no-consensus', 'refused'])
/** Formula states a retry prepares again. */
const FAILED = new Set(['failed', 'no-consensus', 'refused'])
/** Whether every page of a document has been prepared. */
const complete = (r: DocumentRecord): boolean => r.pageCount != null && new Set(r.pages.map(p => p.page)).size === r.pageCount
/** The longest page text kept for export (documents/export.ts). */
const MAX_TEMPLATE = 50_000
/** Documents waiting to be prepared beyond the one under way. */
const MAX_QUEUED = 16
const ID = /^d[0-9a-f]{16}$/

export class NodeDocuments {
  /** records by id, as written (a record changes only here) */
  private readonly records = new Map<string, DocumentRecord>()
  private loaded: Promise<void> | undefined
  private queue: Promise<void> = Promise.resolve()
  private queued = 0
  private stopping = false
  private readonly stops = new Set<() => void>()
  /** documents whose retry is being taken (between its checks and its mark) */
  private readonly retrying = new Set<string>()
  /** documents being deleted (a retry meanwhile would write the record back) */
  private readonly removing = new Set<string>()
  /** documents queued or being prepared: how many times, and the end of the last (a delete waits for its last record to be written) */
  private readonly working = new Map<string, { count: number, done: Promise<void> }>()

  constructor (private readonly dir: string, private readonly tasks: DocumentTasks, private readonly log: Log) {}

  /** The records in the data dir; those a stopped node left preparing are interrupted. */
  private async load (): Promise<void> {
    this.loaded ??= (async () => {
      const files = (await readdir(this.dir).catch(() => [] as string[])).filter(f => /^d[0-9a-f]{16}\.json$/.test(f))
      for (const f of files) {
        let parsed
        try {
          parsed = DocumentRecord.safeParse(JSON.parse(await readFile(join(this.dir, f), 'utf8')))
        } catch (err) {
          this.log.warn({ file: f, err: (err as Error).message }, 'a document record is damaged; it is left out')
          continue
        }
        if (!parsed.success) { this.log.warn({ file: f, err: parsed.error.message }, 'a document record is damaged; it is left out'); continue }
        const r = parsed.data
        if (r.status === 'preparing') { r.status = complete(r) ? 'prepared' : 'interrupted'; await this.save(r) }
        this.records.set(r.id, r)
      }
    })()
    await this.loaded
  }

  private async save (r: DocumentRecord, texts?: string[]): Promise<void> {
    await writeFileAtomic(join(this.dir, `${r.id}.json`), JSON.stringify(r) + '\n')
    if (texts != null) await writeFileAtomic(join(this.dir, `${r.id}.text.json`), JSON.stringify(texts) + '\n')
  }

  /**
   * Accept a PDF (or a TIFF of page scans): its record is written at once and its pages are prepared in turn, after any
   * document before it; each page's formulas go to the network as tasks as the page is ready.
   * Throws DocumentError for bytes that are not a PDF or TIFF, or when too many documents wait.
   */
  async submit (pdf: Uint8Array, file: string): Promise<DocumentView> {
    await this.load()
    if (!hasPdfHeader(pdf) && !hasTiffHeader(pdf)) throw notPdf(file)
    if (this.stopping) throw new DocumentError(file, 'busy', 'the node is stopping')
    if (this.queued >= MAX_QUEUED) throw new DocumentError(file, 'busy', `${this.queued} documents are waiting to be prepared; submit it again later`)
    const record: DocumentRecord = { id: `d${randomBytes(8).toString('hex')}`, file, time: Date.now(), status: 'preparing', pages: [], formulas: [] }
    // The file is kept beside its record, so that its pages can be prepared again (retry).
    await writeFileAtomic(join(this.dir, `${record.id}.src`), pdf)
    this.records.set(record.id, record)
    await this.save(record, [])
    this.enqueue(record, pdf)
    return await this.view(record)
  }

  private enqueue (record: DocumentRecord, pdf: Uint8Array, pages?: number[]): void {
    this.queued++
    this.queue = this.queue.then(async () => {
      this.queued--
      try {
        await this.prepare(record, pdf, pages)
      } finally {
        const w = this.working.get(record.id)!
        if (--w.count === 0) this.working.delete(record.id)
      }
    })
    this.working.set(record.id, { count: (this.working.get(record.id)?.count ?? 0) + 1, done: this.queue })
  }

  /**
   * Prepare pages of a document again (1-based; by default those that need it: pages never
   * prepared, and pages with a formula that failed, found no consensus or was refused): their
   * formulas are found and handed to the network again, in place of what those pages had.
   * Throws DocumentError ('busy') while the document is being prepared, or when its file was not
   * kept; RangeError for pages it does not have or nothing to retry; undefined for no such document.
   */
  async retry (id: string, pages?: readonly number[]): Promise<DocumentView | undefined> {
    await this.load()
    const record = ID.test(id) ? this.records.get(id) : undefined
    if (record == null) return undefined
    // Checked and marked with no wait between, so that two retries at once cannot both be taken.
    if (record.status === 'preparing' || this.retrying.has(record.id)) throw new DocumentError(record.file, 'busy', 'is still being prepared; retry it when it is done')
    if (this.removing.has(record.id)) throw new DocumentError(record.file, 'busy', 'is being deleted')
    if (this.stopping) throw new DocumentError(record.file, 'busy', 'the node is stopping')
    if (this.queued >= MAX_QUEUED) throw new DocumentError(record.file, 'busy', `${this.queued} documents are waiting to be prepared; retry it later`)
    this.retrying.add(record.id)
    try {
      const pdf = await readFile(join(this.dir, `${record.id}.src`)).catch(() => undefined)
      if (pdf == null) throw new DocumentError(record.file, 'not-kept', 'its file was not kept (submitted before pages could be retried): submit it again')
      const count = record.pageCount
      if (count == null && pages != null) throw new RangeError(`${record.file} was never opened, so its pages are not known: retry it without --pages`)
      const bad = pages?.filter(p => !Number.isInteger(p) || p < 1 || p > count!) ?? []
      if (bad.length > 0) throw new RangeError(`${record.file} has ${count!} pages (1-${count!}); no page ${bad.join(', ')}`)
      const view = await this.view(record)
      const wanted = pages != null
        ? [...new Set(pages)].sort((a, b) => a - b)
        : count == null
          ? undefined // never opened: all of it
          : Array.from({ length: count }, (_, i) => i + 1).filter(p => !record.pages.some(x => x.page === p) ||
            view.formulas.some(f => f.page === p && FAILED.has(f.state)))
      if (wanted?.length === 0) throw new RangeError(`${record.file}: every page was prepared and no formula failed; name the pages to prepare again`)
      record.status = 'preparing'
      delete record.refused
      await this.save(record)
      this.enqueue(record, pdf, wanted)
      this.log.info({ document: record.id, pages: wanted ?? 'all' }, 'document pages to be prepared again')
      return await this.view(record)
    } finally {
      this.retrying.delete(record.id)
    }
  }

  private async prepare (record: DocumentRecord, pdf: Uint8Array, only?: number[]): Promise<void> {
    // Still waiting when the node stopped: the next start finds it preparing, and says whether it is complete.
    if (this.stopping) return
    // The pages' texts, by page (those of pages not prepared again are kept).
    const kept = only == null ? [] : await readFile(join(this.dir, `${record.id}.text.json`), 'utf8').then(t => JSON.parse(t) as string[], () => [] as string[])
    const textOf = new Map(record.pages.map((p, i) => [p.page, kept[i] ?? '']))
    if (only == null) {
      record.pages = []
      record.formulas = []
      textOf.clear()
    }
    // A page prepared again replaces what it had when its new version comes (a retry stopped half-way keeps the rest).
    const texts = (): string[] => record.pages.map(p => textOf.get(p.page) ?? '')
    const stop = new AbortController()
    const onStop = (): void => { stop.abort() }
    this.stops.add(onStop)
    try {
      await preparePdf(pdf, record.file, async (page, pages) => {
        if (stop.signal.aborted) return
        record.pageCount = pages
        const found: DocumentRecord['formulas'] = []
        for (const [i, f] of page.formulas.entries()) {
          const at = { page: page.page, box: f.box, display: f.display }
          try {
            const task = await this.tasks.submit(f.png, { file: `${record.file} p${page.page} #${i + 1}`.slice(-1024), critical: false })
            found.push({ ...at, task: task.id })
          } catch (err) {
            if (!(err instanceof ImageError)) throw err
            found.push({ ...at, error: err.message })
          }
        }
        // In page order: a page prepared again goes back in its place.
        record.pages = record.pages.filter(p => p.page !== page.page)
        record.formulas = record.formulas.filter(f => f.page !== page.page)
        const at = record.formulas.findIndex(f => f.page > page.page)
        record.formulas.splice(at < 0 ? record.formulas.length : at, 0, ...found)
        record.pages.push({ page: page.page, formulas: page.formulas.length, scanned: page.scanned })
        record.pages.sort((a, b) => a.page - b.page)
        textOf.set(page.page, page.template.slice(0, MAX_TEMPLATE))
        await this.save(record, texts())
      }, { signal: stop.signal, ...(only != null ? { pages: only } : {}) })
      record.status = !stop.signal.aborted && complete(record) ? 'prepared' : 'interrupted'
      this.log.info({ document: record.id, file: record.file, pages: record.pages.length, formulas: record.formulas.length }, 'document prepared')
    } catch (err) {
      record.status = 'refused'
      record.refused = err instanceof DocumentError
        ? { reason: err.reason, message: err.message }
        : { reason: 'failed', message: `${record.file}: ${(err as Error).message}` }
      this.log.warn({ document: record.id, ...record.refused }, 'document refused')
    } finally {
      this.stops.delete(onStop)
    }
    await this.save(record, texts()).catch((err: unknown) => { this.log.warn({ document: record.id, err: (err as Error).message }, 'saving a document record failed') })
  }

  /** Stop preparing (the document under way is interrupted; those waiting stay preparing, and are interrupted at the next start). */
  async stop (): Promise<void> {
    this.stopping = true
    for (const s of this.stops) s()
    await this.queue.catch(() => {})
  }

  /**
   * Delete a document from this node: its record, its pages' text and its kept file. Its formulas'
   * tasks and results stay, as every task and result does. False for no such document; throws
   * DocumentError ('busy') while it waits to be prepared or is being prepared (until its last record
   * is written, so that nothing writes it back).
   */
  async remove (id: string): Promise<boolean> {
    await this.load()
    const record = ID.test(id) ? this.records.get(id) : undefined
    if (record == null) return false
    // Refused or prepared, and its last record being written: that write ends first (a moment).
    const writing = record.status !== 'preparing' && !this.retrying.has(record.id) ? this.working.get(record.id)?.done : undefined
    if (writing != null) {
      await writing.catch(() => {})
      if (!this.records.has(record.id)) return false
    }
    if (record.status === 'preparing' || this.retrying.has(record.id) || this.working.has(record.id)) {
      throw new DocumentError(record.file, 'busy', 'is being prepared; delete it when it is done')
    }
    // The record last: a delete that fails half-way (or a node stopped in it) leaves the document
    // there, to be deleted again, rather than files no record names.
    if (this.removing.has(record.id)) return true
    this.removing.add(record.id)
    try {
      for (const f of [`${record.id}.src`, `${record.id}.text.json`, `${record.id}.json`]) await rm(join(this.dir, f), { force: true })
      this.records.delete(record.id)
    } finally {
      this.removing.delete(record.id)
    }
    this.log.info({ document: record.id }, 'document deleted')
    return true
  }

  async get (id: string): Promise<DocumentView | undefined> {
    await this.load()
    const r = ID.test(id) ? this.records.get(id) : undefined
    return r != null ? await this.view(r) : undefined
  }

  /**
   * A document as Markdown (its text with the formulas in place) or as a LaTeX file of its formulas
   * (documents/export.ts), with the answers its tasks have now (a formula not read yet is left out).
   */
  async export (id: string, format: 'markdown' | 'latex'): Promise<string | undefined> {
    const r = ID.test(id) ? (await this.load(), this.records.get(id)) : undefined
    if (r == null) return undefined
    const view = await this.view(r)
    const read = view.formulas.map(f => ({ page: f.page, display: f.display, latex: f.latex ?? '' }))
    if (format === 'latex') return toLatex(r.file, read.filter(f => f.latex !== ''))
    const texts = await readFile(join(this.dir, `${r.id}.text.json`), 'utf8').then(t => JSON.parse(t) as string[], () => [] as string[])
    return toMarkdown(r.pages.map((p, i) => ({ template: texts[i] ?? '', formulas: read.filter(f => f.page === p.page) })))
  }

  /** The newest documents first. */
  async list (limit: number): Promise<DocumentView[]> {
    await this.load()
    const records = [...this.records.values()].sort((a, b) => b.time - a.time).slice(0, limit)
    return await Promise.all(records.map(async r => await this.view(r)))
  }

  private async view (r: DocumentRecord): Promise<DocumentView> {
    const formulas: DocumentFormulaView[] = await Promise.all(r.formulas.map(async f => {
      if (f.task == null) return { ...f, state: 'refused' as const }
      const t = await this.tasks.get(f.task)
      const result = t?.result
      return { ...f, state: t?.state ?? 'failed', ...(result != null ? { latex: result.latex, confidence: result.confidence, alternatives: result.alternatives } : {}) }
    }))
    const open = new Set(formulas.filter(f => !ENDED.has(f.state)).map(f => f.page))
    const state: DocumentView['state'] = r.status === 'preparing' ? 'preparing' : open.size > 0 ? 'running' : r.status === 'prepared' ? 'done' : r.status
    return {
      id: r.id,
      file: r.file,
      submittedAt: new Date(r.time).toISOString(),
      state,
      ...(r.refused != null ? { refused: r.refused } : {}),
      pageCount: r.pageCount ?? null,
      pages: r.pages,
      pagesDone: r.pages.filter(p => !open.has(p.page)).length,
      formulas
    }
  }
}
