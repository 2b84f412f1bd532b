/**
 * Pieces the web interface's pages share: typeset LaTeX (KaTeX), a confidence badge, copy
 * buttons, short peer ids, and one result shown whole (answer, source, confidence, alternatives).
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import katex from 'katex'
import type { Alternative, OcrResult } from './api.js'

/** LaTeX typeset by KaTeX (built through the DOM, which the page's Content-Security-Policy allows). */
export function Tex ({ latex, display = true }: { latex: string, display?: boolean }) {
  const ref = useRef<HTMLSpanElement>(null)
  useEffect(() => {
    if (ref.current == null) return
    try {
      katex.render(latex, ref.current, { displayMode: display, throwOnError: false, strict: 'ignore', output: 'htmlAndMathml' })
    } catch {
      ref.current.textContent = latex
    }
  }, [latex, display])
  return <span class='tex' ref={ref} />
}

export function confidenceClass (c: number): string {
  return c >= 0.8 ? 'high' : c >= 0.5 ? 'mid' : 'low'
}

export function Confidence ({ value }: { value: number }) {
  return (
    <span class={`confidence ${confidenceClass(value)}`} title='calibrated probability that the whole answer is right'>
      <span class='dot' aria-hidden='true' /> confidence {value.toFixed(2)}
    </span>
  )
}

export function CopyButton ({ text, label = 'Copy LaTeX' }: { text: string, label?: string }) {
  const [done, setDone] = useState(false)
  const copy = async (): Promise<void> => {
    await navigator.clipboard.writeText(text)
    setDone(true)
    setTimeout(() => setDone(false), 1500)
  }
  return <button type='button' class='copy' onClick={() => { void copy().catch(() => {}) }}>{done ? 'Copied' : label}</button>
}

export function Source ({ latex }: { latex: string }) {
  return (
    <div class='source'>
      <code>{latex}</code>
      <CopyButton text={latex} />
    </div>
  )
}

export const short = (id: string | undefined): string => id == null ? '-' : id.length > 16 ? `…${id.slice(-10)}` : id

export function Peerid ({ id }: { id: string | undefined }) {
  return <span class='peer' title={id}>{short(id)}</span>
}

/** One result: the typeset answer beside its source, its confidence, and the alternatives. */
export function ResultView ({ result }: { result: OcrResult }) {
  return (
    <div class='result'>
      <div class='answer'>
        <Tex latex={result.latex} />
      </div>
      <Source latex={result.latex} />
      <p class='meta'>
        <Confidence value={result.confidence} />
        {result.ms != null && <span> · {Math.round(result.ms)} ms</span>}
        <span> · model {result.model}</span>
        {result.rotated != null && <span> · read turned {result.rotated}°</span>}
      </p>
      {result.unreadable != null && <p class='warning' role='note'>Not a formula this model reads: {result.unreadable.reason}</p>}
      {result.alternatives.length > 0 && <Alternatives list={result.alternatives} />}
    </div>
  )
}

function Alternatives ({ list }: { list: Alternative[] }) {
  return (
    <details class='alternatives'>
      <summary>{list.length} alternative{list.length === 1 ? '' : 's'}</summary>
      <ol>
        {list.map((a, i) => (
          <li key={i}>
            <Tex latex={a.latex} />
            <div class='source'><code>{a.latex}</code><span class='score'>log p {a.score.toFixed(2)}</span><CopyButton text={a.latex} label='Copy' /></div>
          </li>
        ))}
      </ol>
    </details>
  )
}
