/** `texmesh submit paper.pdf`, `texmesh result DOCUMENT_ID`, `texmesh retry DOCUMENT_ID` and `texmesh delete DOCUMENT_ID`: documents handed to the network (node/daemon/documents.ts). */
import { InvalidArgumentError, type Command } from 'commander'
import { ApiClient } from './client.js'
import { dataDirOf, parsePositive, withDataDir, withJson, type CommonOptions } from './options.js'
import type { DocumentView } from '../daemon/documents.js'
import { ApiError, TexmeshError } from '../errors.js'
import { printable } from './terminal.js'

/** A document id as POST /v1/documents gives it. */
export const DOCUMENT_ID = /^d[0-9a-f]{16}$/

async function sleep (ms: number): Promise<void> { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A document that will not change any more. */
export const ended = (d: DocumentView): boolean => d.state === 'done' || d.state === 'refused' || d.state === 'interrupted'

/** A document refused, interrupted, or with a formula that failed, found no consensus or was refused (a failure for the exit code). */
export const documentFailed = (d: DocumentView): boolean => d.state === 'refused' || d.state === 'interrupted' || d.formulas.some(f => f.state === 'failed' || f.state === 'no-consensus' || f.state === 'refused')

/** Poll until every document has ended or the deadline passes; `onPages` hears of pages finished, and of all pages once known. `docs` is updated in place. */
export async function waitDocuments (client: ApiClient, docs: DocumentView[], seconds: number, onPages: (done: number, total: number) => void, pollMs = 250): Promise<void> {
  const deadline = Date.now() + seconds * 1000
  const total = (): number => docs.reduce((n, d) => n + (d.pageCount ?? d.pages.length), 0)
  let pagesDone = docs.reduce((n, d) => n + d.pagesDone, 0)
  onPages(pagesDone, total())
  while (!docs.every(ended)) {
    if (Date.now() > deadline) {
      const open = docs.filter(d => !ended(d))
      throw new TexmeshError(`${open.length} document${open.length > 1 ? 's' : ''} not finished after ${seconds} s (follow with: texmesh result ${open[0]!.id} --wait)`)
    }
    await sleep(pollMs)
    for (const [i, d] of docs.entries()) if (!ended(d)) docs[i] = await client.get<DocumentView>(`/v1/documents/${d.id}`)
    pagesDone = docs.reduce((n, d) => n + d.pagesDone, 0)
    onPages(pagesDone, total())
  }
}

/** A document for a terminal: its id and progress, then a line a formula: page, kind, state or LaTeX. */
export function humanDocumentView (d: DocumentView): string {
  const found = d.formulas.length
  const pages = d.pageCount ?? d.pages.length
  const head = `${printable(d.file)}\t${d.id}\t${d.state}\t${pages} page${pages === 1 ? '' : 's'} (${d.pagesDone} done), ${found} formula${found === 1 ? '' : 's'}${d.refused != null ? `\trefused: ${printable(d.refused.message)}` : ''}`
  return [head, ...d.formulas.map(f => `  p${f.page} ${f.display ? 'display' : 'inline '}\t${f.latex != null ? `${printable(f.latex)}\t(confidence ${(f.confidence ?? 0).toFixed(2)})` : f.state}`)].join('\n')
}

/** `texmesh result DOCUMENT_ID [--wait]`. */
export async function runDocumentResult (client: ApiClient, id: string, options: { wait?: boolean, json?: boolean, timeout?: number, export?: 'markdown' | 'latex' }, waitSeconds: number): Promise<DocumentView> {
  let doc: DocumentView
  try {
    doc = await client.get<DocumentView>(`/v1/documents/${id}`)
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new TexmeshError(`this node has no document ${id}`)
    throw err
  }
  const docs = [doc]
  if (options.wait === true) await waitDocuments(client, docs, options.timeout ?? waitSeconds, () => {})
  if (options.export != null) {
    const text = await client.getBytes(`/v1/documents/${id}?export=${options.export}`)
    if (text == null) throw new TexmeshError(`this node has no document ${id}`)
    process.stdout.write(new TextDecoder().decode(text))
    return docs[0]!
  }
  process.stdout.write((options.json === true ? JSON.stringify(docs[0]) : humanDocumentView(docs[0]!)) + '\n')
  return docs[0]!
}

/** Parse `--pages 2,5,7` (page numbers from 1). */
function parsePages (v: string): number[] {
  const pages = v.split(',').map(p => p.trim())
  if (pages.length === 0 || pages.some(p => !/^[1-9]\d{0,5}$/.test(p))) throw new InvalidArgumentError('page numbers from 1, separated by commas (2,5,7)')
  return pages.map(Number)
}

/** `texmesh retry DOCUMENT_ID [--pages 2,5] [--wait]`: pages of a document prepared and read again. */
export function addRetryCommand (program: Command): void {
  withJson(withDataDir(program.command('retry')))
    .description('prepare pages of a submitted document again: its formulas found and handed to the network anew (by default the pages that need it: never prepared, or with a formula that failed)')
    .argument('<document-id>', 'the document id texmesh submit printed')
    .option('--pages <list>', 'these pages (2,5,7) instead', parsePages)
    .option('--wait', 'wait until the document has finished again')
    .option('--timeout <seconds>', 'with --wait, give up after this long (default 600)', parsePositive('--timeout', 86_400))
    .action(async (id: string, opts: CommonOptions & { pages?: number[], wait?: boolean, timeout?: number }, cmd: Command) => {
      if (!DOCUMENT_ID.test(id)) cmd.error(`${id} is not a document id (d and 16 hex digits)`)
      if (opts.timeout != null && opts.wait !== true) cmd.error('--timeout goes with --wait')
      const client = await ApiClient.forDataDir(dataDirOf(opts))
      try {
        await client.post<DocumentView>(`/v1/documents/${id}/retry`, opts.pages != null ? { pages: opts.pages } : {})
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) throw new TexmeshError(`this node has no document ${id}`)
        if (err instanceof ApiError && (err.status === 400 || err.status === 409)) throw new TexmeshError(err.message)
        throw err
      }
      const doc = await runDocumentResult(client, id, opts, 600)
      // Without --wait the document has just been taken again: how it ends is not known yet.
      if (opts.wait === true && documentFailed(doc)) process.exitCode = 1
    })
}

/** `texmesh delete DOCUMENT_ID`: a document gone from the node (its record and its kept file). */
export function addDeleteCommand (program: Command): void {
  withDataDir(program.command('delete'))
    .description('delete a submitted document from the node: its record, its pages\' text and the file it kept (its formulas\' tasks and results stay, as all tasks and results do)')
    .argument('<document-id>', 'the document id texmesh submit printed')
    .action(async (id: string, opts: CommonOptions, cmd: Command) => {
      if (!DOCUMENT_ID.test(id)) cmd.error(`${id} is not a document id (d and 16 hex digits)`)
      const client = await ApiClient.forDataDir(dataDirOf(opts))
      try {
        await client.delete(`/v1/documents/${id}`)
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) throw new TexmeshError(`this node has no document ${id}`)
        if (err instanceof ApiError && err.status === 409) throw new TexmeshError(err.message)
        throw err
      }
      process.stdout.write(`deleted ${id}\n`)
    })
}
