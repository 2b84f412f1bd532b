/** `texmesh submit paper.pdf` and `texmesh result DOCUMENT_ID`: documents handed to the network (node/daemon/documents.ts). */
import type { ApiClient } from './client.js'
import type { DocumentView } from '../daemon/documents.js'
import { ApiError, TexmeshError } from '../errors.js'
import { printable } from './terminal.js'

/** A document id as POST /v1/documents gives it. */
export const DOCUMENT_ID = /^d[0-9a-f]{16}$/

async function sleep (ms: number): Promise<void> { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A document that will not change any more. */
export const ended = (d: DocumentView): boolean => d.state === 'done' || d.state === 'refused' || d.state === 'interrupted'

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
