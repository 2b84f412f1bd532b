/**
 * texmesh's web interface: Read (drop or paste images), Tasks (the node's tasks, live) and
 * Network (this node, its peers, members and revocations). Pages are chosen by the URL's hash
 * (#/read, #/tasks, #/network); more pages (corrections, search, documents) join `PAGES`.
 */
import { render, type ComponentChildren } from 'preact'
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks'
import katex from 'katex'
import { ApiError, get, post, type Alternative, type Member, type OcrResult, type Peer, type Revocation, type Status, type Task, type VerifyCheck } from './api.js'

// ---- small pieces ------------------------------------------------------------------------

/** LaTeX typeset by KaTeX (built through the DOM, which the page's Content-Security-Policy allows). */
function Tex ({ latex, display = true }: { latex: string, display?: boolean }) {
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

function confidenceClass (c: number): string {
  return c >= 0.8 ? 'high' : c >= 0.5 ? 'mid' : 'low'
}

function Confidence ({ value }: { value: number }) {
  return (
    <span class={`confidence ${confidenceClass(value)}`} title='calibrated probability that the whole answer is right'>
      <span class='dot' aria-hidden='true' /> confidence {value.toFixed(2)}
    </span>
  )
}

function CopyButton ({ text, label = 'Copy LaTeX' }: { text: string, label?: string }) {
  const [done, setDone] = useState(false)
  const copy = async (): Promise<void> => {
    await navigator.clipboard.writeText(text)
    setDone(true)
    setTimeout(() => setDone(false), 1500)
  }
  return <button type='button' class='copy' onClick={() => { void copy().catch(() => {}) }}>{done ? 'Copied' : label}</button>
}

function Source ({ latex }: { latex: string }) {
  return (
    <div class='source'>
      <code>{latex}</code>
      <CopyButton text={latex} />
    </div>
  )
}

const short = (id: string | undefined): string => id == null ? '-' : id.length > 16 ? `…${id.slice(-10)}` : id

function Peerid ({ id }: { id: string | undefined }) {
  return <span class='peer' title={id}>{short(id)}</span>
}

/** One result: the typeset answer beside its source, its confidence, and the alternatives. */
function ResultView ({ result }: { result: OcrResult }) {
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

// ---- Read -------------------------------------------------------------------------------

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

function ReadPage () {
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

// ---- Tasks ------------------------------------------------------------------------------

function quorumText (t: Task): string {
  const q = t.quorum
  if (q == null) return t.critical ? (t.state === 'done' ? 'certified' : t.state) : '-'
  switch (q.state) {
    case 'waiting': return `waiting: ${q.reason}`
    case 'voting': return `round ${q.round}: ${q.votes}/${q.needed} votes`
    case 'certified': return `certified by ${q.voters.length}`
    case 'no-consensus': return 'no consensus'
  }
}

function Certificate ({ task }: { task: Task }) {
  const cert = task.result?.certificate
  const [check, setCheck] = useState<VerifyCheck | null>(null)
  const [error, setError] = useState<string | null>(null)
  if (cert == null) return null
  const verify = (): void => {
    setCheck(null)
    setError(null)
    post<VerifyCheck>(`/v1/tasks/${encodeURIComponent(task.id)}/verify`).then(setCheck, (e: Error) => setError(e.message))
  }
  return (
    <section class='certificate' aria-label='quorum certificate'>
      <h4>Quorum certificate</h4>
      <p>{cert.votes.length} signed votes, {2 * cert.f + 1} needed (f = {cert.f}); network {cert.network ?? 'open'}; image {cert.image.slice(0, 16)}…</p>
      <table>
        <thead><tr><th scope='col'>voter</th><th scope='col'>time</th><th scope='col'>confidence</th></tr></thead>
        <tbody>
          {cert.votes.map(v => <tr key={v.voter}><td><Peerid id={v.voter} /></td><td>{new Date(v.time).toLocaleTimeString()}</td><td>{v.confidence.toFixed(2)}</td></tr>)}
        </tbody>
      </table>
      <button type='button' onClick={verify}>Verify certificate</button>
      {check != null && (check.ok
        ? <p class='ok' role='status' data-testid='verified'>The certificate holds: {check.voters.length} signed votes agree{check.checked != null && check.checked.length > 0 ? `; matches ${check.checked.join(', ')}` : ''}.</p>
        : <p class='error' role='status' data-testid='verified'>The certificate does not hold ({check.reason}): {check.detail}</p>)}
      {error != null && <p class='error' role='alert'>{error}</p>}
    </section>
  )
}

function TaskDetails ({ task, onClose }: { task: Task, onClose: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => { heading.current?.focus() }, [task.id])
  return (
    <section class='details' aria-labelledby='task-title'>
      <h3 id='task-title' tabIndex={-1} ref={heading}>{task.file} <small>{task.id}</small></h3>
      <button type='button' class='close' onClick={onClose}>Close</button>
      <dl>
        <dt>state</dt><dd data-testid='task-state'>{task.state}</dd>
        <dt>critical</dt><dd>{task.critical ? 'yes' : 'no'}</dd>
        <dt>workers</dt><dd>{task.workers.length > 0 ? task.workers.map(w => <Peerid key={w} id={w} />) : '-'}</dd>
        <dt>leases</dt><dd>{task.grants} granted, {task.regrants} granted again</dd>
        {task.critical && <><dt>quorum</dt><dd>{quorumText(task)}</dd></>}
        <dt>submitted</dt><dd>{new Date(task.submittedAt).toLocaleString()}</dd>
        {task.doneAt != null && <><dt>done</dt><dd>{new Date(task.doneAt).toLocaleString()}{task.cached ? ' (already known)' : ''}</dd></>}
        {task.result?.by != null && <><dt>read by</dt><dd><Peerid id={task.result.by} /></dd></>}
      </dl>
      {task.failures.length > 0 && (
        <><h4>Failures</h4><ul>{task.failures.map((f, i) => <li key={i}><Peerid id={f.peer} />: {f.reason}</li>)}</ul></>
      )}
      {task.result != null && <ResultView result={task.result} />}
      <Certificate task={task} />
    </section>
  )
}

function TasksPage ({ tasks }: { tasks: Map<string, Task> }) {
  const [selected, setSelected] = useState<string | null>(null)
  const [critical, setCritical] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const input = useRef<HTMLInputElement>(null)
  const list = useMemo(() => [...tasks.values()].sort((a, b) => b.submittedAt.localeCompare(a.submittedAt)), [tasks])
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setError(null)
    const files = [...(input.current?.files ?? [])]
    if (files.length === 0) { setError('choose one or more images first'); return }
    for (const file of files) {
      try {
        const t = await post<Task>(`/v1/tasks?name=${encodeURIComponent(file.name.slice(0, 1000))}&critical=${critical}`, file)
        setSelected(t.id)
      } catch (err) {
        setError(`${file.name}: ${(err as Error).message}`)
      }
    }
    if (input.current != null) input.current.value = ''
  }
  const task = selected != null ? tasks.get(selected) : undefined
  return (
    <section aria-labelledby='tasks-title'>
      <h2 id='tasks-title'>Tasks</h2>
      <form class='submit' onSubmit={(e) => { void submit(e) }}>
        <label>Images <input ref={input} type='file' accept='image/*' multiple /></label>
        <label><input type='checkbox' checked={critical} onChange={(e) => setCritical(e.currentTarget.checked)} /> critical (a quorum of voters certifies the answer)</label>
        <button type='submit'>Submit to the network</button>
        {error != null && <p class='error' role='alert'>{error}</p>}
      </form>
      <div class='split'>
        <table class='tasks'>
          <caption>{list.length} task{list.length === 1 ? '' : 's'}, newest first; live</caption>
          <thead><tr><th scope='col'>file</th><th scope='col'>state</th><th scope='col'>worker</th><th scope='col'>quorum</th><th scope='col'>failures</th><th scope='col'>answer</th></tr></thead>
          <tbody>
            {list.map(t => (
              <tr key={t.id} class={t.id === selected ? 'selected' : ''} data-state={t.state}>
                <td><button type='button' class='link' onClick={() => setSelected(t.id)} aria-label={`details of ${t.file}`}>{t.file}</button>{t.critical && <span class='tag'>critical</span>}</td>
                <td><span class={`state ${t.state}`}>{t.state}</span></td>
                <td><Peerid id={t.workers.at(-1)} /></td>
                <td>{quorumText(t)}</td>
                <td>{t.failures.length > 0 ? t.failures.length : ''}</td>
                <td>{t.result != null ? <Confidence value={t.result.confidence} /> : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {task != null && <TaskDetails task={task} onClose={() => setSelected(null)} />}
      </div>
    </section>
  )
}

// ---- Network ----------------------------------------------------------------------------

function membershipText (m: { state: string, expiresAt?: string, reason?: string } | undefined): string {
  if (m == null) return '-'
  if (m.state === 'member' && m.expiresAt != null) return `member until ${m.expiresAt.slice(0, 10)}`
  if (m.state === 'refused') return `refused (${m.reason ?? '?'})`
  return m.state
}

function NetworkPage ({ status }: { status: Status | null }) {
  const [peers, setPeers] = useState<Peer[]>([])
  const [members, setMembers] = useState<Member[]>([])
  const [revocations, setRevocations] = useState<Revocation[]>([])
  useEffect(() => {
    // Refreshed with each status the event stream brings.
    void get<Peer[]>('/v1/peers').then(setPeers, () => {})
    void get<Member[]>('/v1/members').then(setMembers, () => {})
    void get<Revocation[]>('/v1/revocations').then(setRevocations, () => {})
  }, [status])
  if (status == null) return <p class='busy'>waiting for the node's status…</p>
  const t = status.tasks
  return (
    <section aria-labelledby='network-title'>
      <h2 id='network-title'>Network</h2>
      <h3>This node</h3>
      <dl class='status'>
        <dt>peer id</dt><dd><code>{status.peerId}</code></dd>
        <dt>network</dt><dd>{status.network.private ? `${status.network.name ?? ''} (private; ${membershipText(status.network.membership)})` : 'open (no network key)'}</dd>
        {status.network.admin != null && <><dt>admin key</dt><dd><code>{status.network.admin}</code></dd></>}
        <dt>version</dt><dd>{status.version}{status.model != null ? `, model ${status.model}` : ''}</dd>
        <dt>uptime</dt><dd>{Math.round(status.uptimeS)} s</dd>
        {t != null && <><dt>load</dt><dd data-testid='load'>{t.running}/{t.capacity} workers busy; {t.queued} queued, {t.leased} leased, {t.done} done, {t.failedTasks} failed; {t.processed} read here ({t.stolen} for other nodes)</dd></>}
        <dt>addresses</dt><dd><ul class='plain'>{status.addresses.map(a => <li key={a}><code>{a}</code></li>)}</ul></dd>
      </dl>
      <h3>Peers ({peers.length})</h3>
      <table>
        <thead><tr><th scope='col'>peer</th><th scope='col'>latency</th><th scope='col'>direction</th><th scope='col'>membership</th></tr></thead>
        <tbody>{peers.map(p => <tr key={p.id}><td><Peerid id={p.id} />{p.equivocated === true && <span class='tag bad'>equivocated</span>}</td><td>{p.latencyMs != null ? `${p.latencyMs} ms` : '-'}</td><td>{p.direction}</td><td>{membershipText(p.membership)}</td></tr>)}</tbody>
      </table>
      {status.network.private && (
        <>
          <h3>Members ({members.length})</h3>
          <table>
            <thead><tr><th scope='col'>peer</th><th scope='col'>certificate</th><th scope='col'>connected</th></tr></thead>
            <tbody>{members.map(m => <tr key={m.peer}><td><Peerid id={m.peer} />{m.equivocated && <span class='tag bad'>equivocated</span>}</td><td>{m.valid ? `valid until ${m.expiresAt.slice(0, 10)}` : m.revokedAt != null ? `revoked ${m.revokedAt.slice(0, 10)}` : 'not valid'}</td><td>{m.connected ? 'yes' : 'no'}</td></tr>)}</tbody>
          </table>
          <h3>Revocations ({revocations.length})</h3>
          <ul class='plain'>{revocations.map(r => <li key={r.peer}><Peerid id={r.peer} /> revoked {new Date(r.revokedAt).toLocaleString()}</li>)}</ul>
        </>
      )}
    </section>
  )
}

// ---- the app ----------------------------------------------------------------------------

const PAGES = [
  { path: 'read', title: 'Read' },
  { path: 'tasks', title: 'Tasks' },
  { path: 'network', title: 'Network' }
] as const
type PagePath = typeof PAGES[number]['path']

function usePage (): PagePath {
  const parse = (): PagePath => PAGES.find(p => location.hash === `#/${p.path}`)?.path ?? 'read'
  const [page, setPage] = useState(parse)
  useEffect(() => {
    const on = (): void => setPage(parse())
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return page
}

/** The node's tasks and status, kept current by the server-sent event stream. */
function useLive (enabled: boolean): { tasks: Map<string, Task>, status: Status | null, connected: boolean } {
  const [tasks, setTasks] = useState(new Map<string, Task>())
  const [status, setStatus] = useState<Status | null>(null)
  const [connected, setConnected] = useState(false)
  useEffect(() => {
    if (!enabled) return
    const events = new EventSource('/v1/events')
    events.addEventListener('open', () => setConnected(true))
    events.addEventListener('error', () => setConnected(false))
    events.addEventListener('task', (e) => {
      const t = JSON.parse((e as MessageEvent<string>).data) as Task
      setTasks(m => new Map(m).set(t.id, t))
    })
    events.addEventListener('status', (e) => setStatus(JSON.parse((e as MessageEvent<string>).data) as Status))
    return () => events.close()
  }, [enabled])
  return { tasks, status, connected }
}

function Shell ({ children, signedIn, connected }: { children: ComponentChildren, signedIn: boolean, connected: boolean }) {
  const page = usePage()
  const signOut = (): void => { void post('/v1/signout').finally(() => location.reload()) }
  return (
    <>
      <header>
        <h1>texmesh</h1>
        {signedIn && (
          <nav aria-label='pages'>
            {PAGES.map(p => <a key={p.path} href={`#/${p.path}`} aria-current={page === p.path ? 'page' : undefined}>{p.title}</a>)}
          </nav>
        )}
        {signedIn && <span class={`live ${connected ? 'on' : 'off'}`} role='status'>{connected ? 'live' : 'reconnecting…'}</span>}
        {signedIn && <button type='button' onClick={signOut}>Sign out</button>}
      </header>
      <main>{children}</main>
    </>
  )
}

function App () {
  const [signedIn, setSignedIn] = useState<boolean | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    get<{ signedIn: boolean }>('/v1/session').then(s => setSignedIn(s.signedIn), (e: Error) => { setError(e instanceof ApiError ? e.message : 'the node does not answer'); setSignedIn(false) })
  }, [])
  const live = useLive(signedIn === true)
  const page = usePage()
  if (signedIn == null) return <p class='boot'>texmesh: loading…</p>
  if (!signedIn) {
    return (
      <Shell signedIn={false} connected={false}>
        <section class='signin' data-testid='signed-out'>
          <h2>Not signed in</h2>
          <p>This page shows a texmesh node's work, so it needs a session. On the machine the node runs on, as the owner of its data dir, run</p>
          <pre><code>texmesh open</code></pre>
          <p>and follow the link it prints (it works once, for a minute).</p>
          {error != null && <p class='error' role='alert'>{error}</p>}
        </section>
      </Shell>
    )
  }
  return (
    <Shell signedIn connected={live.connected}>
      {page === 'read' && <ReadPage />}
      {page === 'tasks' && <TasksPage tasks={live.tasks} />}
      {page === 'network' && <NetworkPage status={live.status} />}
    </Shell>
  )
}

render(<App />, document.getElementById('app')!)
