import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { preparePdf } from '../../documents/prepare.js'
import { toLatex, toMarkdown } from '../../documents/export.js'
import { ImageError } from '../../pipeline/preprocess.js'
import { writeFileAtomic } from '../datadir/files.js'
import type { Log } from '../log.js'
import type { TaskView } from './task-view.js'

/**
 * Documents submitted to this node (`texmesh submit paper.pdf`, POST /v1/documents): each page's
 * formulas are found here in its text layer (documents/born-digital.ts), cropped from its
 * rendering, and each crop is submitted as a task of its own, which any node of the network may
 * take, and whose answer, reviews and reuse are those of any image. The document is a record in
 * the data dir (`documents/ID.json`) naming its formulas' tasks, in reading order; its view
 * gathers their states and answers. A node that dies mid-document delays only its formulas' tasks.
 */

const Box = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() })
const DocumentRecord = z.object({
  id: z.string().regex(/^d[0-9a-f]{16}$/),
  file: z.string(),
  time: z.number(),
  pages: z.array(z.object({ page: z.number().int(), formulas: z.number().int(), scanned: z.boolean(), template: z.string().optional() })),
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
  /** done when every formula's task has ended (done, failed or refused) */
  state: 'running' | 'done'
  pages: Array<Omit<DocumentRecord['pages'][number], 'template'>>
  /** pages whose formulas have all ended */
  pagesDone: number
  formulas: DocumentFormulaView[]
}

export interface DocumentTasks {
  submit(image: Uint8Array, meta: { file: string, critical: boolean }): Promise<TaskView>
  get(id: string): Promise<TaskView | undefined>
}

const ENDED = new Set(['done', 'failed', 'no-consensus', 'refused'])
/** The longest page text kept for export (documents/export.ts). */
const MAX_TEMPLATE = 50_000

export class NodeDocuments {
  constructor (private readonly dir: string, private readonly tasks: DocumentTasks, private readonly log: Log) {}

  /**
   * Find a PDF's formulas (off the main thread, documents/prepare.ts), hand each to the network as
   * a task as its page is ready, and keep the record. Throws DocumentError for a PDF that cannot be
   * read, or takes too long to.
   */
  async submit (pdf: Uint8Array, file: string): Promise<DocumentView> {
    const record: DocumentRecord = { id: `d${randomBytes(8).toString('hex')}`, file, time: Date.now(), pages: [], formulas: [] }
    await preparePdf(pdf, file, async page => {
      for (const [i, f] of page.formulas.entries()) {
        const at = { page: page.page, box: f.box, display: f.display }
        try {
          const task = await this.tasks.submit(f.png, { file: `${file} p${page.page} #${i + 1}`.slice(-1024), critical: false })
          record.formulas.push({ ...at, task: task.id })
        } catch (err) {
          if (!(err instanceof ImageError)) throw err
          record.formulas.push({ ...at, error: err.message })
        }
      }
      record.pages.push({ page: page.page, formulas: page.formulas.length, scanned: page.scanned, template: page.template.slice(0, MAX_TEMPLATE) })
    })
    await writeFileAtomic(join(this.dir, `${record.id}.json`), JSON.stringify(record) + '\n')
    this.log.info({ document: record.id, file, pages: record.pages.length, formulas: record.formulas.length }, 'document submitted')
    return await this.view(record)
  }

  private async record (id: string): Promise<DocumentRecord | undefined> {
    if (!/^d[0-9a-f]{16}$/.test(id)) return undefined
    const text = await readFile(join(this.dir, `${id}.json`), 'utf8').catch(() => undefined)
    if (text == null) return undefined
    const parsed = DocumentRecord.safeParse(JSON.parse(text))
    if (!parsed.success) {
      this.log.warn({ document: id, err: parsed.error.message }, 'a document record is damaged')
      return undefined
    }
    return parsed.data
  }

  async get (id: string): Promise<DocumentView | undefined> {
    const r = await this.record(id)
    return r != null ? await this.view(r) : undefined
  }

  /**
   * A document as Markdown (its text with the formulas in place) or as a LaTeX file of its formulas
   * (documents/export.ts), with the answers its tasks have now (a formula not read yet is left out).
   */
  async export (id: string, format: 'markdown' | 'latex'): Promise<string | undefined> {
    const r = await this.record(id)
    if (r == null) return undefined
    const view = await this.view(r)
    const read = view.formulas.map(f => ({ page: f.page, display: f.display, latex: f.latex ?? '' }))
    if (format === 'latex') return toLatex(r.file, read.filter(f => f.latex !== ''))
    return toMarkdown(r.pages.map(p => ({ template: p.template ?? '', formulas: read.filter(f => f.page === p.page) })))
  }

  /** The newest documents first. */
  async list (limit: number): Promise<DocumentView[]> {
    const ids = (await readdir(this.dir).catch(() => [] as string[])).filter(f => /^d[0-9a-f]{16}\.json$/.test(f)).map(f => f.slice(0, -5))
    const records = (await Promise.all(ids.map(async id => await this.record(id)))).filter((r): r is DocumentRecord => r != null)
    records.sort((a, b) => b.time - a.time)
    return await Promise.all(records.slice(0, limit).map(async r => await this.view(r)))
  }

  private async view (r: DocumentRecord): Promise<DocumentView> {
    const formulas: DocumentFormulaView[] = await Promise.all(r.formulas.map(async f => {
      if (f.task == null) return { ...f, state: 'refused' as const }
      const t = await this.tasks.get(f.task)
      const result = t?.result
      return { ...f, state: t?.state ?? 'failed', ...(result != null ? { latex: result.latex, confidence: result.confidence, alternatives: result.alternatives } : {}) }
    }))
    const pagesDone = r.pages.filter(p => formulas.filter(f => f.page === p.page).every(f => ENDED.has(f.state))).length
    return {
      id: r.id,
      file: r.file,
      submittedAt: new Date(r.time).toISOString(),
      state: formulas.every(f => ENDED.has(f.state)) ? 'done' : 'running',
      pages: r.pages.map(({ template: _, ...p }) => p),
      pagesDone,
      formulas
    }
  }
}
