/**
 * The Documents page: hand a PDF or a multi-page TIFF of scans to the network (POST
 * /v1/documents): its formulas are found and each becomes a task; pages can be prepared again
 * (POST /v1/documents/ID/retry), and a document deleted from the node (DELETE /v1/documents/ID). The node's documents, newest first, followed while they run, and one
 * document's formulas in reading order, typeset, with their page, kind and state.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { del, get, post, type DocumentView } from './api.js'
import { Confidence, Source, Tex } from './ui.js'

function DocumentDetails ({ doc, onRetried, onDeleted }: { doc: DocumentView, onRetried: (retried: DocumentView) => void, onDeleted: () => void }) {
  const [retryError, setRetryError] = useState<string | null>(null)
  const retry = (): void => {
    setRetryError(null)
    post<DocumentView>(`/v1/documents/${doc.id}/retry`, {}).then(onRetried, (e: Error) => setRetryError(e.message))
  }
  const remove = (): void => {
    if (!window.confirm(`Delete ${doc.file} from this node? The results of its formulas stay in the network.`)) return
    setRetryError(null)
    del(`/v1/documents/${doc.id}`).then(onDeleted, (e: Error) => setRetryError(e.message))
  }
  const needsRetry = doc.state === 'refused' || doc.state === 'interrupted' || doc.formulas.some(f => f.state === 'failed' || f.state === 'no-consensus' || f.state === 'refused')
  return (
    <section class='details' aria-labelledby='document-title'>
      <h3 id='document-title'>{doc.file} <small>{doc.id}</small></h3>
      <p class='meta' data-testid='document-progress'>{doc.state}: {doc.pagesDone} of {doc.pageCount ?? doc.pages.length} pages done, {doc.formulas.length} formulas{doc.pages.some(p => p.scanned) ? '; formulas of pages without a text layer (scans) found in their pixels' : ''}</p>
      {doc.refused != null && <p class='error' role='status'>Refused: {doc.refused.message}</p>}
      <p>{needsRetry && <button type='button' data-testid='retry' onClick={retry}>Retry the pages that need it</button>} <button type='button' data-testid='delete' onClick={remove} disabled={doc.state === 'preparing'}>Delete from this node</button>{retryError != null && <span class='error' role='alert'> {retryError}</span>}</p>
      <p class='meta'>Export (the answers so far): <a href={`/v1/documents/${doc.id}?export=markdown`} download={`${doc.file.replace(/\.(pdf|tiff?)$/i, '')}.md`}>Markdown</a> · <a href={`/v1/documents/${doc.id}?export=latex`} download={`${doc.file.replace(/\.(pdf|tiff?)$/i, '')}-formulas.tex`}>LaTeX</a></p>
      <ol class='readings'>
        {doc.formulas.map((f, i) => (
          <li key={i} class='reading' data-testid='document-formula' data-state={f.state}>
            <h4>page {f.page}, {f.display ? 'display' : 'inline'} · {f.state}{f.confidence != null && <> · <Confidence value={f.confidence} /></>}</h4>
            {f.latex != null && <><div class='answer'><Tex latex={f.latex} display={f.display} /></div><Source latex={f.latex} /></>}
            {f.error != null && <p class='error'>{f.error}</p>}
          </li>
        ))}
      </ol>
    </section>
  )
}

export function DocumentsPage () {
  const [docs, setDocs] = useState<DocumentView[]>([])
  const [selected, setSelected] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const input = useRef<HTMLInputElement>(null)
  // Only the answer to the latest request is shown: an older one that arrives after it (a poll sent
  // before a submit, say) would put back a list without the document just submitted.
  const asked = useRef(0)
  const refresh = (): void => {
    const n = ++asked.current
    get<DocumentView[]>('/v1/documents?limit=50').then(d => { if (n === asked.current) { setDocs(d); setError(null) } }, (e: Error) => { if (n === asked.current) setError(e.message) })
  }
  useEffect(refresh, [])
  // A document retried shows at once what the node answered (preparing), not the list from before.
  const retried = (d: DocumentView): void => {
    ++asked.current
    setDocs(ds => ds.map(x => x.id === d.id ? d : x))
  }
  // Followed every 2 s while one runs, or while the one just submitted is not in the list yet.
  const running = docs.some(d => d.state === 'running' || d.state === 'preparing') || (selected != null && !docs.some(d => d.id === selected))
  useEffect(() => {
    if (!running) return
    const timer = setInterval(refresh, 2000)
    return () => clearInterval(timer)
  }, [running])
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setError(null)
    const files = [...(input.current?.files ?? [])]
    if (files.length === 0) { setError('choose a PDF or a TIFF of scans first'); return }
    setBusy(true)
    for (const file of files) {
      try {
        const d = await post<DocumentView>(`/v1/documents?name=${encodeURIComponent(file.name.slice(0, 1000))}`, new Blob([file], { type: /\.tiff?$/i.test(file.name) ? 'image/tiff' : 'application/pdf' }))
        setSelected(d.id)
      } catch (err) {
        setError(`${file.name}: ${(err as Error).message}`)
      }
    }
    setBusy(false)
    if (input.current != null) input.current.value = ''
    refresh()
  }
  const doc = docs.find(d => d.id === selected)
  return (
    <section aria-labelledby='documents-title'>
      <h2 id='documents-title'>Documents</h2>
      <form class='submit' onSubmit={(e) => { void submit(e) }}>
        <label>PDFs or TIFFs of scans <input ref={input} type='file' accept='application/pdf,.pdf,image/tiff,.tif,.tiff' multiple /></label>
        <button type='submit' disabled={busy}>Submit to the network</button>
        {error != null && <p class='error' role='alert'>{error}</p>}
      </form>
      <div class='split'>
        <table class='tasks'>
          <caption>{docs.length} document{docs.length === 1 ? '' : 's'}, newest first</caption>
          <thead><tr><th scope='col'>file</th><th scope='col'>state</th><th scope='col'>pages</th><th scope='col'>formulas</th></tr></thead>
          <tbody>
            {docs.map(d => (
              <tr key={d.id} class={d.id === selected ? 'selected' : ''} data-state={d.state}>
                <td><button type='button' class='link' onClick={() => setSelected(d.id)} aria-label={`details of ${d.file}`}>{d.file}</button></td>
                <td><span class={`state ${d.state}`}>{d.state}</span></td>
                <td>{d.pagesDone}/{d.pageCount ?? d.pages.length}</td>
                <td>{d.formulas.length}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {doc != null && <DocumentDetails key={doc.id} doc={doc} onRetried={retried} onDeleted={() => { setSelected(null); refresh() }} />}
      </div>
    </section>
  )
}
