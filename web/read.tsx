/**
 * The Read page: drop, paste or choose images of formulas; each is read by this node
 * (POST /v1/ocr) and shown beside its answer, its regions boxed on the image.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { post, type OcrResult } from './api.js'
import { confidenceClass, ResultView } from './ui.js'

interface Reading { key: number, name: string, url: string, state: 'reading' | 'done' | 'error', result?: OcrResult, error?: string }

/** The image with its regions boxed (the boxes are in the image's pixels). */
function BoxedImage ({ url, result, name }: { url: string, result?: OcrResult, name: string }) {
  const [size, setSize] = useState<{ w: number, h: number } | null>(null)
  return (
    <div class='boxed'>
      <img src={url} alt={name} onLoad={(e) => { const i = e.currentTarget; setSize({ w: i.naturalWidth, h: i.naturalHeight }) }} />
      {size != null && result != null && result.rotated == null && (
        <svg viewBox={`0 0 ${size.w} ${size.h}`} preserveAspectRatio='none' aria-hidden='true'>
          {result.regions.map((r, i) => <rect key={i} class={`region ${confidenceClass(r.confidence)}`} x={r.bbox.x} y={r.bbox.y} width={r.bbox.width} height={r.bbox.height} />)}
        </svg>
      )}
    </div>
  )
}

export function ReadPage () {
  const [readings, setReadings] = useState<Reading[]>([])
  const [over, setOver] = useState(false)
  const next = useRef(0)
  const input = useRef<HTMLInputElement>(null)

  const read = useCallback((files: File[]) => {
    for (const file of files.filter(f => f.type.startsWith('image/') || f.type === '')) {
      const key = next.current++
      const name = file.name !== '' ? file.name : 'pasted image'
      const url = URL.createObjectURL(file)
      setReadings(rs => [{ key, name, url, state: 'reading' }, ...rs])
      const update = (r: Partial<Reading>): void => setReadings(rs => rs.map(x => x.key === key ? { ...x, ...r } : x))
      post<OcrResult>(`/v1/ocr?name=${encodeURIComponent(name.slice(0, 1000))}`, file)
        .then(result => update({ state: 'done', result }), (err: Error) => update({ state: 'error', error: err.message }))
    }
  }, [])

  useEffect(() => {
    const onPaste = (e: ClipboardEvent): void => {
      const files = [...(e.clipboardData?.files ?? [])]
      if (files.length > 0) { e.preventDefault(); read(files) }
    }
    document.addEventListener('paste', onPaste)
    return () => document.removeEventListener('paste', onPaste)
  }, [read])

  return (
    <section aria-labelledby='read-title'>
      <h2 id='read-title'>Read</h2>
      <div
        class={`drop${over ? ' over' : ''}`}
        data-testid='drop'
        onDragOver={(e) => { e.preventDefault(); setOver(true) }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => { e.preventDefault(); setOver(false); read([...(e.dataTransfer?.files ?? [])]) }}
      >
        <p>Drop images of formulas here, or paste one (Ctrl+V), or</p>
        <button type='button' onClick={() => input.current?.click()}>Choose images…</button>
        <input ref={input} type='file' accept='image/*' multiple hidden onChange={(e) => { read([...(e.currentTarget.files ?? [])]); e.currentTarget.value = '' }} />
      </div>
      <ul class='readings' aria-live='polite'>
        {readings.map(r => (
          <li key={r.key} class={`reading ${r.state}`}>
            <h3>{r.name}</h3>
            <div class='pair'>
              <BoxedImage url={r.url} name={r.name} {...(r.result != null ? { result: r.result } : {})} />
              <div>
                {r.state === 'reading' && <p class='busy'>reading…</p>}
                {r.state === 'error' && <p class='error' role='alert'>{r.error}</p>}
                {r.result != null && <ResultView result={r.result} />}
              </div>
            </div>
          </li>
        ))}
      </ul>
    </section>
  )
}
