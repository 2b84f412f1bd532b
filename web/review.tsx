/**
 * Reviewing a task's result: what reviews say of it (corrected, confirmed, disputed), one click
 * to confirm it or to pick one of its alternatives, and an inline editor with a live KaTeX
 * preview for a correction. Every node then serves the reviewed answer (see the README).
 */
import { useState } from 'preact/hooks'
import katex from 'katex'
import { post, type Task, type WrittenReview } from './api.js'
import { Peerid, Tex } from './ui.js'

/** KaTeX's verdict on a LaTeX string: null when it parses, else its message. */
function parseError (latex: string): string | null {
  if (latex.trim() === '') return 'empty'
  try {
    katex.renderToString(latex, { throwOnError: true, strict: 'ignore', displayMode: true, output: 'mathml' })
    return null
  } catch (err) {
    return (err as Error).message
  }
}

function ReviewState ({ task }: { task: Task }) {
  const r = task.result?.review
  const up = task.result?.rankedUp
  if (r == null && up != null) {
    return (
      <div data-testid='review-state' data-state='ranked-up'>
        <p>Not reviewed yet. Shown: the model's alternative {up.alternative}, a formula the network's reviewers settled on before. The model's first answer was:</p>
        <div class='answer original'><Tex latex={up.from} /></div>
      </div>
    )
  }
  const reused = task.result?.reused
  if (r == null && reused != null) {
    return (
      <div data-testid='review-state' data-state='reused'>
        <p>Not reviewed yet. Shown: the answer of a near-duplicate image (cosine {reused.cosine.toFixed(3)}), which was {reused.kind}. The model read:</p>
        <div class='answer original'><Tex latex={reused.read} /></div>
      </div>
    )
  }
  if (r == null) return <p class='meta' data-testid='review-state'>Not reviewed yet.</p>
  const by = <>{r.by.map(b => <Peerid key={b} id={b} />)}</>
  const others = r.others.length > 0 ? <> ({r.others.reduce((n, o) => n + o.by.length, 0)} other reviewer{r.others.length === 1 && r.others[0]!.by.length === 1 ? '' : 's'} disagree)</> : null
  if (r.state === 'corrected') {
    return (
      <div data-testid='review-state' data-state='corrected'>
        <p>Corrected by {by}{others}. The model said:</p>
        <div class='answer original'><Tex latex={r.original?.latex ?? ''} /></div>
      </div>
    )
  }
  if (r.state === 'disputed') {
    return (
      <div data-testid='review-state' data-state='disputed'>
        <p class='warning'>Disputed: the certified answer stands, but {by} say it is{others}:</p>
        <div class='answer'><Tex latex={r.latex} /></div>
      </div>
    )
  }
  return <p data-testid='review-state' data-state='confirmed'>Confirmed by {by}{others}.</p>
}

/** What the image is answered with after a review, every review counted. */
function servedText (r: WrittenReview): string {
  if (r.served.state === 'disputed') return 'The certified answer stands; your review is shown beside it.'
  if (r.served.latex !== r.latex) return 'Other reviewers outweigh it: the network keeps their answer.'
  return r.served.state === 'corrected' ? 'Every node now answers this image with it.' : 'Every node shows the answer as confirmed.'
}

export function ReviewPanel ({ task }: { task: Task }) {
  const result = task.result
  const [editing, setEditing] = useState(false)
  const [draft, setDraft] = useState('')
  const [saved, setSaved] = useState<WrittenReview | null>(null)
  const [error, setError] = useState<string | null>(null)
  if (result == null) return null
  const send = (body: { latex?: string, alternative?: number }): void => {
    setError(null)
    post<WrittenReview>('/v1/reviews', { target: task.id, ...body }).then(r => { setSaved(r); setEditing(false) }, (e: Error) => setError(e.message))
  }
  const problem = editing ? parseError(draft) : null
  return (
    <section class='review' aria-label='review'>
      <h4>Review</h4>
      <ReviewState task={task} />
      <div class='actions'>
        <button type='button' onClick={() => send({ latex: result.latex })} data-testid='confirm'>Confirm this answer</button>
        <button type='button' onClick={() => { setDraft(result.latex); setEditing(!editing) }} aria-expanded={editing} data-testid='correct'>Correct it…</button>
      </div>
      {result.alternatives.length > 0 && (
        <div class='pick'>
          <p class='meta'>Or pick the right one among the alternatives:</p>
          <ol>
            {result.alternatives.map((a, i) => (
              <li key={i}><button type='button' class='alternative' onClick={() => send({ alternative: i + 1 })} aria-label={`alternative ${i + 1} is right: ${a.latex}`}><Tex latex={a.latex} /></button></li>
            ))}
          </ol>
        </div>
      )}
      {editing && (
        <form class='editor' onSubmit={(e) => { e.preventDefault(); if (problem == null) send({ latex: draft }) }}>
          <label for='correction'>The right LaTeX</label>
          <textarea id='correction' rows={3} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} spellcheck={false} />
          <div class='answer preview' aria-live='polite' data-testid='preview'>{problem == null ? <Tex latex={draft} /> : <p class='error'>Does not parse: {problem}</p>}</div>
          <button type='submit' disabled={problem != null}>Save the correction</button>
        </form>
      )}
      {saved != null && <p class='ok' role='status' data-testid='reviewed'>Saved ({saved.verdict}{saved.rank != null ? `, alternative ${saved.rank}` : ''}). {servedText(saved)}</p>}
      {error != null && <p class='error' role='alert'>{error}</p>}
    </section>
  )
}
