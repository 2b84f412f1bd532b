/**
 * The Search page: formulas like the one typed, among everything the network has read
 * (GET /v1/search), or like an image of one formula (POST /v1/search/image): each typeset, with
 * its similarity, where it came from, and whether it was corrected or certified. The query is
 * typeset as it is typed.
 */
import { useState } from 'preact/hooks'
import { get, post, type SearchAnswer } from './api.js'
import { Peerid, Source, Tex } from './ui.js'

export function SearchPage () {
  const [query, setQuery] = useState('')
  const [answer, setAnswer] = useState<SearchAnswer | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [what, setWhat] = useState<'formulas' | 'images'>('formulas')
  const run = (request: Promise<SearchAnswer>, kind: 'formulas' | 'images'): void => {
    setError(null)
    setBusy(true)
    request.then(a => { setAnswer(a); setWhat(kind) }, (err: Error) => { setAnswer(null); setError(err.message) })
      .finally(() => setBusy(false))
  }
  const search = (e: Event): void => {
    e.preventDefault()
    run(get<SearchAnswer>(`/v1/search?latex=${encodeURIComponent(query)}&k=20`), 'formulas')
  }
  const byImage = (file: File | undefined): void => {
    if (file == null) return
    run(post<{ images: number, hits: SearchAnswer['hits'] }>('/v1/search/image?k=20', file).then(r => ({ formulas: r.images, hits: r.hits })), 'images')
  }
  return (
    <section aria-labelledby='search-title'>
      <h2 id='search-title'>Search</h2>
      <form class='editor' onSubmit={search} role='search'>
        <label for='query'>A formula in LaTeX</label>
        <textarea id='query' rows={2} value={query} onInput={(e) => setQuery(e.currentTarget.value)} spellcheck={false} placeholder='\int_0^1 x^n \, dx' />
        {query.trim() !== '' && <div class='answer preview' aria-hidden='true'><Tex latex={query} /></div>}
        <button type='submit' disabled={busy || query.trim() === ''}>Search what the network has read</button>
        <label>Or by an image of one formula <input type='file' accept='image/*' data-testid='search-image' disabled={busy} onChange={(e) => { byImage(e.currentTarget.files?.[0]); e.currentTarget.value = '' }} /></label>
      </form>
      {error != null && <p class='error' role='alert'>{error}</p>}
      {answer != null && (
        <>
          <p class='meta' data-testid='search-summary'>{answer.hits.length} formulas {what === 'images' ? `of the ${answer.formulas} images` : `of ${answer.formulas}`} in the network's memory, most similar first ({what === 'images' ? 'cosine of the image embeddings; a re-scan scores about 0.95 to 1' : '1.000: the same features'}).</p>
          <ol class='readings hits'>
            {answer.hits.map(h => (
              <li key={h.latex} class='reading' data-testid='hit'>
                <h3>{h.score.toFixed(3)} · {h.sourceCount} source{h.sourceCount === 1 ? '' : 's'}{h.sources.some(s => s.kind === 'correction') && <span class='tag'>a correction</span>}{h.sources.some(s => s.kind === 'confirmation') && <span class='tag'>confirmed</span>}{h.sources.some(s => s.certified) && <span class='tag'>certified</span>}</h3>
                <div class='answer'><Tex latex={h.latex} /></div>
                <Source latex={h.latex} />
                <ul class='plain meta'>
                  {h.sources.slice(0, 3).map(s => <li key={`${s.kind}${s.hash}${s.by}`}>{s.kind} of image <code>{s.hash.slice(0, 12)}…</code>{s.task != null && <> (task <code>{s.task}</code>)</>} by <Peerid id={s.by} />, {new Date(s.time).toLocaleString()}</li>)}
                </ul>
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  )
}
